import type { Command } from 'commander';
import { runChaos } from '../run.js';
import { ChaosError } from '../errors.js';
import { DEFAULTS, parseCount, parseDuration, parseSeed } from '../options.js';
import { formatReport, summaryLine } from '../report.js';
import { SCENARIOS } from '../scenario.js';
import { CliError } from '../../src/cli/errors.js';

/**
 * `shoal chaos run`: starts a real cluster of node processes, kills, pauses
 * and partitions it from a seeded schedule while clients write, then checks
 * that nothing acknowledged was lost. The harness lives in chaos-tests/.
 */
const HELP_AFTER = `
Scenarios:
${Object.values(SCENARIOS)
  .filter((s) => !s.name.startsWith('selftest'))
  .map((s) => `  ${s.name.padEnd(14)} ${s.description}`)
  .join('\n')}

Prints a table of faults, recovery times and checker verdicts (report.json and
the node logs are kept in the run dir). The last line of output is one JSON
object: {"seed", "faults", "acked_writes_lost", "linearizable", "converged",
"failover_p99_ms", "reschedule_p99_ms"}. Exit code 0 when every checker
passes; 1 otherwise, after printing the command that replays the seed.`;

interface Flags {
  scenario: string;
  duration: string;
  seed?: string;
  managers: string;
  workers: string;
  netns?: boolean;
  out?: string;
  clients: string;
  break?: string;
  killWorkers?: boolean;
}

export function registerChaos(program: Command): void {
  const chaos = program.command('chaos').description('chaos testing: break a real cluster on purpose and check nothing acknowledged is lost');
  chaos
    .command('run')
    .description('start a cluster, inject faults from a seeded schedule under a client workload, and check the result')
    .option('--scenario <name>', 'fault scenario, or all', DEFAULTS.scenario)
    .option('--kill-workers', 'same as --scenario kill-workers')
    .option('--duration <time>', 'length of the fault phase (60s, 2m)', `${DEFAULTS.durationMs / 1000}s`)
    .option('--seed <n>', 'seed of the fault schedule and workload (default: random, printed)')
    .option('--managers <n>', 'managers', String(DEFAULTS.managers))
    .option('--workers <n>', 'workers', String(DEFAULTS.workers))
    .option('--clients <n>', 'concurrent KV clients', String(DEFAULTS.clients))
    .option('--out <dir>', 'run dir for the report, history and node logs (default: a new temp dir)')
    .option('--netns', 'each node in its own network namespace, linked by veth to a bridge (root only); partitions cut real links')
    .option('--break <mode>', 'self-test only: run a deliberately broken build (ack-before-commit, lose-tail)')
    .addHelpText('after', HELP_AFTER)
    .action(async (f: Flags) => {
      let report;
      try {
        const seed = parseSeed(f.seed);
        report = await runChaos({
          seed,
          scenario: f.killWorkers ? 'kill-workers' : f.scenario,
          durationMs: parseDuration(f.duration),
          managers: parseCount(f.managers, '--managers', 1),
          workers: parseCount(f.workers, '--workers', 0),
          clients: parseCount(f.clients, '--clients', 1),
          ...(f.netns ? { netns: true } : {}),
          ...(f.out ? { outDir: f.out } : {}),
          ...(f.break ? { break: f.break } : {}),
        });
      } catch (err) {
        if (err instanceof ChaosError) throw new CliError(err.message);
        throw err;
      }
      process.stdout.write(formatReport(report) + '\n');
      process.stdout.write(summaryLine(report.summary) + '\n');
      if (!report.pass) throw new CliError('', 1);
    });
}
