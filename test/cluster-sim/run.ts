/**
 * npm run sim:cluster -- [--seeds N] [--from S] [--seed S --trace] [--break]
 *
 * Runs the whole-cluster simulation (simulation.ts) seed after seed; a
 * failing seed prints its failure and the command that replays it, with
 * the trace.
 */
import { runClusterSim } from './simulation.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const replayCommand = (seed: number, brk = false): string => `npm run sim:cluster -- --seed ${seed} --trace${brk ? ' --break' : ''}`;

const brk = process.argv.includes('--break');
const one = arg('seed');
if (one !== undefined) {
  const r = runClusterSim(Number(one), { trace: process.argv.includes('--trace'), breakOrchestrator: brk });
  if (r.trace.length) process.stdout.write(r.trace.join('\n') + '\n');
  process.stdout.write(JSON.stringify({ seed: r.seed, ok: r.ok, failure: r.failure, events: r.events, acked: r.acked, faults: r.faults }) + '\n');
  process.exitCode = r.ok ? 0 : 1;
} else {
  const n = Number(arg('seeds') ?? 1000);
  const from = Number(arg('from') ?? 1);
  const t0 = Date.now();
  let failed = 0;
  let events = 0;
  for (let s = from; s < from + n; s++) {
    const r = runClusterSim(s, { breakOrchestrator: brk });
    events += r.events;
    if (!r.ok) {
      failed++;
      process.stdout.write(`seed ${s} FAILED: ${r.failure}\n  replay: ${replayCommand(s, brk)}\n`);
      if (failed >= 5) break;
    }
  }
  process.stdout.write(JSON.stringify({ seeds: n, from, failed, events, ms: Date.now() - t0 }) + '\n');
  process.exitCode = failed > 0 ? 1 : 0;
}
