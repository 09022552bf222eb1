/**
 * The whole-cluster simulation (simulation.ts): 200 seeds in npm test,
 * 1,000 in npm run test:full (CLUSTER_SIM_SEEDS=N for another count; `npm
 * run sim:cluster -- --seeds N` outside tap), and proof that it sees what it
 * is for: a deliberately broken orchestrator that replaces a node's tasks
 * before the node's fence has killed them is caught within 500 seeds.
 *
 * The seeds run in a child process (run.js), not in this one: tap tracks
 * every promise of a test process with async hooks, and the simulation runs
 * the product's promise chains millions of times (measured: 2.6 times
 * slower inside tap than beside it), in two halves at once, one per core.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { FULL } from '../helpers/full.js';

// 1,000 in the full suite: a seed of the real components costs ~65 ms, and a loaded machine triples
// that; tap gives a test file 300 s. Longer runs: npm run sim:cluster -- --seeds N.
const SEEDS = Number(process.env.CLUSTER_SIM_SEEDS ?? (FULL ? 1000 : 200));
const runner = fileURLToPath(new URL('./run.js', import.meta.url));

interface Summary {
  seeds: number;
  failed: number;
  firstFailed: number | null;
  events: number;
  acked: number;
  faults: number;
  ms: number;
}

function sim(args: string[]): Promise<{ out: string; summary: Summary | null }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [runner, ...args], { maxBuffer: 64 << 20, timeout: 280_000 }, (_err, stdout, stderr) => {
      const out = String(stdout) + String(stderr);
      const last = String(stdout).trim().split('\n').pop() ?? '';
      let summary: Summary | null = null;
      try {
        summary = JSON.parse(last) as Summary;
      } catch {
        // no summary: the output says why
      }
      resolve({ out, summary });
    });
  });
}

t.test(`${SEEDS} seeds: no slot runs twice, every acknowledged write survives, desired = running after healing`, async (t) => {
  const half = Math.ceil(SEEDS / 2);
  const parts = await Promise.all([
    sim(['--seeds', String(half), '--from', '1', '--max-failures', '3']),
    sim(['--seeds', String(SEEDS - half), '--from', String(half + 1), '--max-failures', '3']),
  ]);
  for (const p of parts) t.ok(p.summary, `the runner finished and summed up: ${p.out.slice(-2000)}`);
  if (parts.some((p) => !p.summary)) return;
  const sum = (k: 'seeds' | 'failed' | 'events' | 'acked' | 'faults') => parts.reduce((n, p) => n + p.summary![k], 0);
  const ms = Math.max(...parts.map((p) => p.summary!.ms));
  t.equal(sum('failed'), 0, sum('failed') === 0 ? `${sum('seeds')} seeds clean (${sum('events')} events, ${sum('acked')} acknowledged writes, ${sum('faults')} faults, ${ms} ms)` : parts.map((p) => p.out.slice(0, 3000)).join('\n'));
  t.equal(sum('seeds'), SEEDS, 'every seed ran');
  t.ok(sum('acked') > SEEDS * 3 && sum('faults') > SEEDS * 3, 'the seeds did write and did break things');
});

t.test('a broken orchestrator (replacing the tasks of a node without an agent session at once, before its fence) is caught within 500 seeds', async (t) => {
  const { out, summary } = await sim(['--seeds', '500', '--break', '--max-failures', '1']);
  t.ok(summary, `the runner finished and summed up: ${out.slice(-2000)}`);
  t.ok(summary?.firstFailed, summary?.firstFailed ? `seed ${summary.firstFailed}: ${out.split('\n')[0]!.slice(0, 240)} (replay: npm run sim:cluster -- --seed ${summary.firstFailed} --trace --break)` : 'no seed caught it');
  t.match(out, /runs twice/, 'as two copies of one slot');
});
