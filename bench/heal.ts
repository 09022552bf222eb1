/**
 * npm run bench:heal — self-healing end to end.
 *
 * 3 managers and 4 workers (real processes on 127.0.x.y, process runtime).
 * For 40 replicas, then 300: ten times, crash one worker — SIGKILL its node
 * daemon and its task supervisor at once, as when the machine dies (its
 * tasks die with the supervisor) — and time from the kill until every task
 * that ran on it is RUNNING on another node; then restart the worker and let
 * the cluster settle. Also counted: tasks lost (fewer running than wanted
 * once healed) and tasks on the surviving workers that stopped meanwhile
 * (fenced or otherwise): a healthy node must lose nothing.
 * One JSON line per replica count; the last line is the last count's.
 * BENCH_HEAL_KILLS and BENCH_HEAL_REPLICAS (comma-separated) override.
 */
import { ProcCluster, type NodeProc } from '../chaos-tests/harness/proc-cluster.js';
import { waitFor } from '../chaos-tests/harness/wait.js';

const KILLS = Number(process.env.BENCH_HEAL_KILLS ?? 10);
const COUNTS = (process.env.BENCH_HEAL_REPLICAS ?? '40,300').split(',').map(Number);

interface TaskJson {
  ID: string;
  NodeID: string;
  Slot: number;
  DesiredState: string;
  Status: { State: string; Err?: string };
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
    for (const replicas of COUNTS) {
      const line = await healRun(c, m1, workers, ids, replicas);
      process.stdout.write(JSON.stringify(line) + '\n');
    }
  } finally {
    await c.close();
  }
}

async function healRun(c: ProcCluster, m1: NodeProc, workers: NodeProc[], ids: Map<string, string>, replicas: number) {
  const name = `heal${replicas}`;
  const r = await c.http(m1, 'POST', '/services/create', {
    Name: name,
    // Idle tasks, as bench:density's: a shell loop that execs `sleep 1` every second costs 300
    // fork+execs a second at 300 replicas — over half of this 2-core machine — and would time the workload.
    TaskTemplate: { Runtime: 'process', ContainerSpec: { Image: 'none', Command: ['sleep', '86400'] } },
    Mode: { Replicated: { Replicas: replicas } },
  });
  if (r.status !== 201) throw new Error(`service create: ${r.status} ${r.body}`);
  const serviceId = r.json<{ ID: string }>().ID;
  // Once the service is deleted the filter names nothing: the API answers 404 (an error object), which means no tasks.
  const tasks = async () => {
    const body = (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: [name] })), undefined, 10_000)).json<TaskJson[] | { message: string }>();
    return Array.isArray(body) ? body : [];
  };
  // What the polls read: the tasks meant to run, not the whole history (1,500+ tasks at 300
  // replicas after a few kills). Serialising all of it every 25 ms loaded the manager the
  // benchmark measures.
  const liveTasks = async () => {
    const filters = encodeURIComponent(JSON.stringify({ service: [name], 'desired-state': ['running'] }));
    const body = (await c.http(m1, 'GET', `/tasks?filters=${filters}`, undefined, 10_000)).json<TaskJson[] | { message: string }>();
    return Array.isArray(body) ? body : [];
  };
  const running = (ts: TaskJson[]) => ts.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running');
  await waitFor(async () => running(await tasks()).length === replicas, { timeoutMs: 300_000, what: `${replicas} running` });

  const heal: number[] = [];
  let lost = 0;
  let fencedSurvivors = 0;
  for (let k = 0; k < KILLS; k++) {
    const victim = workers[k % workers.length]!;
    const victimId = ids.get(victim.name)!;
    const before = running(await tasks());
    const slots = new Set(before.filter((t) => t.NodeID === victimId).map((t) => t.Slot));
    const survivors = before.filter((t) => t.NodeID !== victimId).map((t) => t.ID);
    const t0 = Date.now();
    await c.crash(victim);
    let healedAt = 0;
    try {
      await waitFor(
        async () => {
          const now = running(await liveTasks());
          return [...slots].every((s) => now.some((t) => t.Slot === s && t.NodeID !== victimId)) && now.length >= replicas;
        },
        { timeoutMs: 120_000, intervalMs: 25, what: `${victim.name}'s ${slots.size} tasks running elsewhere` },
      );
      healedAt = Date.now();
    } catch (err) {
      process.stderr.write(`kill ${k + 1}: ${(err as Error).message}\n`);
    }
    const after = await tasks();
    const runningIds = new Set(running(after).map((t) => t.ID));
    const stopped = survivors.filter((id) => !runningIds.has(id));
    fencedSurvivors += stopped.length;
    for (const id of stopped) process.stderr.write(`  survivor task ${id} stopped: ${JSON.stringify(after.find((t) => t.ID === id)?.Status)}\n`);
    lost += Math.max(0, replicas - running(after).length);
    if (healedAt) heal.push(healedAt - t0);
    process.stderr.write(`${replicas} replicas, kill ${k + 1}: ${victim.name} had ${slots.size} tasks; healed in ${healedAt ? healedAt - t0 : 'n/a'} ms\n`);
    await c.restart(victim);
    await waitFor(
      async () => {
        const n = (await c.http(m1, 'GET', `/nodes/${victimId}`)).json<{ Status: { State: string } }>();
        const now = await tasks();
        return n.Status.State === 'ready' && running(now).length === replicas && now.filter((t) => t.Status.State === 'running').length === replicas;
      },
      { timeoutMs: 120_000, what: `${victim.name} back and the cluster settled` },
    );
  }
  await c.http(m1, 'DELETE', `/services/${serviceId}`);
  await waitFor(async () => (await tasks()).every((t) => t.Status.State !== 'running'), { timeoutMs: 120_000, what: `${name}'s tasks stopped` });
  heal.sort((a, b) => a - b);
  const pct = (p: number) => heal[Math.min(heal.length - 1, Math.floor(heal.length * p))] ?? null;
  return { replicas, kills: KILLS, heal_p50_ms: pct(0.5), heal_p99_ms: pct(0.99), lost_tasks: lost, fenced_survivors: fencedSurvivors };
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:heal failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
