/**
 * A real partition still fences. A worker cut off from every manager (and
 * the other worker) while its processes keep running: its task supervisor
 * hears no manager for the fence period and ends its tasks; the managers
 * declare the node down only after that, and start the replacements on the
 * other worker. Every old task's process is gone before any replacement's
 * process starts: no slot runs twice. Healed, the worker registers again and
 * the service is whole, once.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ChaosCluster } from '../../chaos-tests/cluster.js';
import { tasksOf } from '../../chaos-tests/harness/proc-cluster.js';
import { alive } from '../helpers/proc-alive.js';
import { waitFor } from '../helpers/wait.js';

const N = 20;

interface ApiTask {
  ID: string;
  NodeID: string;
  Slot: number;
  DesiredState: string;
  Status: { State: string; Message: string };
}

/** When each task's process started on a node, from its started.json (ms since the epoch). */
function startTimes(dataDir: string): Map<string, number> {
  const out = new Map<string, number>();
  const root = path.join(dataDir, 'runtime', 'process', 'tasks');
  let ids: string[] = [];
  try {
    ids = readdirSync(root);
  } catch {
    return out;
  }
  for (const id of ids) {
    try {
      out.set(id, Date.parse((JSON.parse(readFileSync(path.join(root, id, 'started.json'), 'utf8')) as { startedAt: string }).startedAt));
    } catch {
      // not started
    }
  }
  return out;
}

t.test('an isolated worker fences its tasks before the managers replace them', async (t) => {
  const logs: string[] = [];
  // 84: a fixed block outside claimOctets' [100, 200) (it was 197, inside it, and a claimer took it beside this file: EADDRINUSE).
  const c = await ChaosCluster.start({ managers: 1, workers: 2, subnet: 84, log: (m) => logs.push(m) });
  t.teardown(() => c.close());
  const [m1] = c.managers();
  const [w1, w2] = c.workers();
  const api = async <T>(method: string, p: string, body?: unknown): Promise<T> => {
    const r = await c.api(m1!, method, p, body, 10_000);
    if (r.kind !== 'ok') throw new Error(`${method} ${p}: ${JSON.stringify(r)}`);
    return r.body as T;
  };
  await api('POST', '/services/create', { Name: 'slots', TaskTemplate: { Runtime: 'process', ContainerSpec: { Image: 'sleep', Args: ['3600'] } }, Mode: { Replicated: { Replicas: N } } });
  const tasks = () => api<ApiTask[]>('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['slots'] }))}`);
  const running = async () => (await tasks()).filter((x) => x.DesiredState === 'running' && x.Status.State === 'running');
  await waitFor(async () => (await running()).length === N, { timeoutMs: 60_000, intervalMs: 200, what: `${N} running` });
  const before = (await running()).filter((x) => x.NodeID === w1!.id);
  t.ok(before.length >= N / 4, `${before.length} tasks on the worker to be cut off`);
  const sup = c.pc.supervisorPid(w1!.proc)!;
  const victims = new Set(tasksOf(sup));
  t.equal(victims.size, before.length, 'each of them a process under its supervisor');

  // Watch the victims' processes and note when the last one is gone. A poll can run late on a
  // loaded machine; the death is then known only to lie between the previous poll and this one.
  let lastDeath = 0; // the poll before the one that saw them all gone: the deaths came after it
  let seenDead = 0; // the poll that saw them all gone: the deaths came before it
  let prevPoll = Date.now();
  const watch = setInterval(() => {
    const now = Date.now();
    if (lastDeath === 0 && [...victims].every((p) => !alive(p))) {
      lastDeath = prevPoll;
      // Read after the look, not before it: this process can be preempted between the two, and
      // the deaths are only known to have come before the look ended.
      seenDead = Date.now();
    }
    prevPoll = now;
  }, 10);
  t.teardown(() => clearInterval(watch));
  const cutAt = Date.now();
  await c.isolate(w1!);

  await waitFor(
    async () => {
      const rs = await running();
      return rs.length === N && rs.every((x) => x.NodeID === w2!.id) ? rs : null;
    },
    { timeoutMs: 60_000, intervalMs: 100, what: `all ${N} running on the other worker` },
  );
  t.ok(lastDeath > 0, `the cut-off worker's tasks were all killed (${lastDeath - cutAt} ms after the cut)`);
  // When the fence fired: the supervisor notes it just before it ends itself (and with it, in the
  // kernel's exit path, every task), so the note is no later than the poll that saw them all gone.
  // (Not the poll before it: on a loaded machine the polls can be 100 ms apart, and the fence may
  // fire anywhere between the two.)
  const fencedAt = fenceTime(w1!.proc.dataDir);
  t.ok(fencedAt > 0 && fencedAt <= seenDead, `the supervisor fenced at ${fencedAt - cutAt} ms after the cut, the tasks were seen gone at ${seenDead - cutAt} ms`);
  const started = startTimes(w2!.proc.dataDir);
  const replacements = (await running()).filter((x) => !before.some((b) => b.ID === x.ID) && before.some((b) => b.Slot === x.Slot));
  t.equal(replacements.length, before.length, 'one replacement per slot');
  const firstStart = Math.min(...replacements.map((x) => started.get(x.ID) ?? Infinity));
  t.ok(Number.isFinite(firstStart), 'the replacements recorded their start');
  t.ok(firstStart >= fencedAt, `no slot ran twice: the first replacement started ${firstStart - fencedAt} ms after the fence killed the old copies`);
  const node = await api<{ Status: { State: string; Message: string } }>('GET', `/nodes/${w1!.id}`);
  t.equal(node.Status.State, 'down');
  t.match(node.Status.Message, /fenced/, `down by the fence: ${node.Status.Message}`);

  await c.setPartition([]);
  await waitFor(async () => (await api<{ Status: { State: string } }>('GET', `/nodes/${w1!.id}`)).Status.State === 'ready', { timeoutMs: 30_000, intervalMs: 100, what: 'the worker back and ready' });
  await waitFor(async () => (await running()).length === N, { timeoutMs: 30_000, what: `${N} running` });
  t.equal((await running()).length, N, `healed: exactly ${N} running`);
  t.equal(tasksOf(c.pc.supervisorPid(w1!.proc) ?? -1).filter((p) => victims.has(p)).length, 0, 'none of the old processes came back');
});

/** When the node's supervisor fenced (ms since the epoch), from its note; 0 if it did not. */
function fenceTime(dataDir: string): number {
  for (const f of ['fenced', 'fenced.prev']) {
    try {
      return Date.parse((JSON.parse(readFileSync(path.join(dataDir, 'supervisor', f), 'utf8')) as { at: string }).at);
    } catch {
      // not this one
    }
  }
  return 0;
}

