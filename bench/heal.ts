/**
 * npm run bench:heal — self-healing end to end.
 *
 * 3 managers and 4 workers (real processes on 127.0.x.y, process runtime),
 * a service of 40 replicas. Ten times: kill -9 one worker, and time from the
 * kill until every task that ran on it is RUNNING on another node; then
 * restart the worker and let the cluster settle. Last line: one JSON object.
 */
import { ProcCluster, type NodeProc } from '../chaos-tests/harness/proc-cluster.js';
import { waitFor } from '../chaos-tests/harness/wait.js';

const KILLS = Number(process.env.BENCH_HEAL_KILLS ?? 10);
const REPLICAS = 40;

interface TaskJson {
  ID: string;
  NodeID: string;
  Slot: number;
  DesiredState: string;
  Status: { State: string };
}

async function main(): Promise<void> {
  const c = new ProcCluster(230);
  try {
    const m1 = await c.init();
    const managers = [m1, await c.join('manager', m1), await c.join('manager', m1)];
    const workers: NodeProc[] = [];
    for (let i = 0; i < 4; i++) workers.push(await c.join('worker', m1));
    const ids = new Map<string, string>();
    await waitFor(
      async () => {
        const nodes = (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Description: { Hostname: string }; Status: { State: string } }[]>();
        for (const n of nodes) {
          const p = c.nodes.find((x) => x.name === n.Description.Hostname);
          if (p) ids.set(p.name, n.ID);
        }
        return nodes.filter((n) => n.Status.State === 'ready').length === 7;
      },
      { timeoutMs: 60_000, what: '7 ready nodes' },
    );
    // Tasks run on the workers only: drain the managers.
    for (const m of managers) {
      const id = ids.get(m.name)!;
      const n = (await c.http(m1, 'GET', `/nodes/${id}`)).json<{ Version: { Index: number }; Spec: object }>();
      await c.http(m1, 'POST', `/nodes/${id}/update?version=${n.Version.Index}`, { ...n.Spec, Availability: 'drain' });
    }
    const r = await c.http(m1, 'POST', '/services/create', {
      Name: 'heal',
      TaskTemplate: { Runtime: 'process', ContainerSpec: { Image: 'none', Command: ['sh', '-c', 'while true; do sleep 1; done'] } },
      Mode: { Replicated: { Replicas: REPLICAS } },
    });
    if (r.status !== 201) throw new Error(`service create: ${r.status} ${r.body}`);
    const tasks = async (via: NodeProc) => (await c.http(via, 'GET', '/tasks?filters=' + encodeURIComponent('{"service":["heal"]}'), undefined, 3_000)).json<TaskJson[]>();
    const running = (ts: TaskJson[]) => ts.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
    await waitFor(async () => running(await tasks(m1)).length === REPLICAS, { timeoutMs: 120_000, what: `${REPLICAS} running` });

    const heal: number[] = [];
    let lost = 0;
    for (let k = 0; k < KILLS; k++) {
      const victim = workers[k % workers.length]!;
      const victimId = ids.get(victim.name)!;
      const before = running(await tasks(m1));
      const slots = new Set(before.filter((t) => t.NodeID === victimId).map((t) => t.Slot));
      const t0 = Date.now();
      await c.kill(victim);
      let healedAt = 0;
      try {
        await waitFor(
          async () => {
            const now = running(await tasks(m1));
            return [...slots].every((s) => now.some((t) => t.Slot === s && t.NodeID !== victimId)) && now.length >= REPLICAS;
          },
          { timeoutMs: 60_000, intervalMs: 25, what: `${victim.name}'s ${slots.size} tasks running elsewhere` },
        );
        healedAt = Date.now();
      } catch (err) {
        process.stderr.write(`kill ${k + 1}: ${(err as Error).message}\n`);
      }
      const after = running(await tasks(m1));
      lost += Math.max(0, REPLICAS - after.length);
      if (healedAt) heal.push(healedAt - t0);
      process.stderr.write(`kill ${k + 1}: ${victim.name} had ${slots.size} tasks; healed in ${healedAt ? healedAt - t0 : 'n/a'} ms\n`);
      await c.restart(victim);
      await waitFor(
        async () => {
          const n = (await c.http(m1, 'GET', `/nodes/${victimId}`)).json<{ Status: { State: string } }>();
          const now = await tasks(m1);
          return n.Status.State === 'ready' && running(now).length === REPLICAS && now.filter((t) => t.Status.State === 'running').length === REPLICAS;
        },
        { timeoutMs: 60_000, what: `${victim.name} back and the cluster settled` },
      );
    }
    heal.sort((a, b) => a - b);
    const pct = (p: number) => heal[Math.min(heal.length - 1, Math.floor(heal.length * p))] ?? null;
    process.stdout.write(JSON.stringify({ kills: KILLS, heal_p50_ms: pct(0.5), heal_p99_ms: pct(0.99), lost_tasks: lost }) + '\n');
  } finally {
    await c.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:heal failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
