/**
 * npm run sim:cluster -- [--seeds N] [--from S] [--max-failures K] [--seed S --trace] [--break]
 *
 * Runs the whole-cluster simulation (simulation.ts) seed after seed; a
 * failing seed prints its failure and the command that replays it, with
 * the trace. The last line is one JSON object: seeds run, failures, the
 * first failing seed, events, acknowledged writes and faults in all.
 */
import { runClusterSim } from './simulation.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const replayCommand = (seed: number, brk = false): string => `npm run sim:cluster -- --seed ${seed} --trace${brk ? ' --break' : ''}`;

async function main(): Promise<void> {
  const brk = process.argv.includes('--break');
  const one = arg('seed');
  if (one !== undefined) {
    const r = await runClusterSim(Number(one), { trace: process.argv.includes('--trace'), breakOrchestrator: brk });
    if (r.trace.length) process.stdout.write(r.trace.join('\n') + '\n');
    process.stdout.write(JSON.stringify({ seed: r.seed, ok: r.ok, failure: r.failure, events: r.events, acked: r.acked, faults: r.faults }) + '\n');
    process.exitCode = r.ok ? 0 : 1;
    return;
  }
  const n = Number(arg('seeds') ?? 1000);
  const from = Number(arg('from') ?? 1);
  const maxFailures = Number(arg('max-failures') ?? 5);
  const t0 = Date.now();
  let run = 0;
  let failed = 0;
  let firstFailed: number | null = null;
  let events = 0;
  let simMs = 0;
  let acked = 0;
  let faults = 0;
  for (let s = from; s < from + n && failed < maxFailures; s++) {
    const r = await runClusterSim(s, { breakOrchestrator: brk });
    run++;
    events += r.events;
    simMs += r.simMs;
    acked += r.acked;
    faults += r.faults;
    if (!r.ok) {
      failed++;
      firstFailed ??= s;
      process.stdout.write(`seed ${s} FAILED: ${r.failure}\n  replay: ${replayCommand(s, brk)}\n`);
    }
  }
  process.stdout.write(JSON.stringify({ seeds: run, from, failed, firstFailed, events, simMs, acked, faults, ms: Date.now() - t0 }) + '\n');
  process.exitCode = failed > 0 ? 1 : 0;
}

void main();
