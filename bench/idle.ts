/**
 * npm run bench:idle — what an idle cluster costs.
 *
 * 3 managers and 2 workers (real processes on 127.0.233.x, no tasks), all
 * Ready; after they settle, the CPU time each process spends over a window
 * (BENCH_IDLE_SECONDS, default 20), in ms of CPU per second of wall time:
 * per node daemon (managers, workers) and per task supervisor. An idle
 * cluster's cost is its timers: Raft heartbeats, the fencing lease's
 * renewals (every supervisor to every manager), gossip probes and agent
 * heartbeats. The test suite runs dozens of such clusters, and a user's
 * laptop runs one all day.
 * Last line: {"managers_ms_per_s":…, "workers_ms_per_s":…, "supervisors_ms_per_s":…, "cluster_ms_per_s":…, "seconds":…}
 */
import { ProcCluster, type NodeProc } from '../chaos-tests/harness/proc-cluster.js';
import { waitFor } from '../chaos-tests/harness/wait.js';
import { sleep } from './density-measure.js';
import { cpuMsOf } from './proc-cpu.js';

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 20);

const round = (x: number) => Math.round(x * 10) / 10;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function main(): Promise<void> {
  const c = new ProcCluster(233);
  try {
    const m1 = await c.init();
    const managers = [m1, await c.join('manager', m1), await c.join('manager', m1)];
    const workers = [await c.join('worker', m1), await c.join('worker', m1)];
    await waitFor(async () => (await c.http(m1, 'GET', '/nodes')).json<{ Status: { State: string } }[]>().filter((n) => n.Status.State === 'ready').length === 5, {
      timeoutMs: 60_000,
      what: '5 ready nodes',
    });
    const sups = new Map<NodeProc, number>();
    await waitFor(
      () => {
        for (const n of c.nodes) if (!sups.has(n)) {
          const p = c.supervisorPid(n);
          if (p !== null) sups.set(n, p);
        }
        return sups.size === c.nodes.length;
      },
      { timeoutMs: 30_000, what: 'every node has a task supervisor' },
    );
    // Start-up work (imports, TLS handshakes, the first Raft entries) is not idle cost.
    await sleep(5_000);
    const pids = [...managers.map((n) => n.proc!.pid!), ...workers.map((n) => n.proc!.pid!), ...sups.values()];
    const before = pids.map(cpuMsOf);
    const t0 = performance.now();
    await sleep(SECONDS * 1000);
    const wall = (performance.now() - t0) / 1000;
    const rate = pids.map((p, i) => {
      const a = before[i];
      const b = cpuMsOf(p);
      if (Number.isNaN(a!) || Number.isNaN(b)) throw new Error(`process ${p} exited during the window`);
      return (b - a) / wall;
    });
    const m = rate.slice(0, 3);
    const w = rate.slice(3, 5);
    const s = rate.slice(5);
    process.stderr.write(`idle: per process ms/s: managers ${m.map(round).join(' ')}, workers ${w.map(round).join(' ')}, supervisors ${s.map(round).join(' ')}\n`);
    const line = {
      managers_ms_per_s: round(mean(m)),
      workers_ms_per_s: round(mean(w)),
      supervisors_ms_per_s: round(mean(s)),
      cluster_ms_per_s: round(rate.reduce((a, b) => a + b, 0)),
      seconds: SECONDS,
    };
    process.stdout.write(JSON.stringify(line) + '\n');
  } finally {
    await c.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:idle: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
