import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A worker process frozen with SIGSTOP: its agent stops heartbeating and
 * answering keepalives, but never closes its session (the kernel keeps the
 * socket), unlike a stopped agent or a killed process. The leader must still
 * declare the node down — the first of: its wire idle timeout closing the
 * silent connection, 3 missed heartbeats, gossip declaring it dead — no
 * sooner than the task fence, and reschedule its task elsewhere; after
 * SIGCONT the node comes back ready and its old task ends. (The pure
 * missed-heartbeat and gossip-dead rules are unit-tested in
 * dispatcher-heartbeat.test.ts.)
 */
interface ApiNode {
  ID: string;
  Description: { Hostname: string };
  Status: { State: string; Message?: string };
}
interface ApiTask {
  ID: string;
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
}

t.test('SIGSTOP a worker: down though its agent never closed the session, its task rescheduled; SIGCONT: ready again', async (t) => {
  const c = new ProcCluster();
  t.teardown(async () => {
    for (const n of c.nodes) if (n.proc?.pid) process.kill(n.proc.pid, 'SIGCONT');
    await c.close();
  });
  const m1 = await c.init();
  const w1 = await c.join('worker', m1);
  const nodes = async () => (await c.http(m1, 'GET', '/nodes')).json<ApiNode[]>();
  const byName = async (name: string) => (await nodes()).find((n) => n.Description.Hostname === name);
  await waitFor(async () => (await nodes()).filter((n) => n.Status.State === 'ready').length === 2, { timeoutMs: 20_000, what: 'two ready nodes' });
  const n1 = (await byName('n1'))!.ID;
  const n2 = (await byName('n2'))!.ID;

  const r = await c.http(m1, 'POST', '/services/create', {
    Name: 'sleeper',
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '600'] } },
    Mode: { Replicated: { Replicas: 2 } },
  });
  t.equal(r.status, 201, r.body);
  const tasks = async () => (await c.http(m1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: ['sleeper'] }))}`)).json<ApiTask[]>();
  const running = async () => (await tasks()).filter((x) => x.DesiredState === 'running' && x.Status.State === 'running');
  await waitFor(async () => (await running()).length === 2, { timeoutMs: 30_000, what: 'two running tasks' });
  const onW = (await running()).filter((x) => x.NodeID === n2);
  t.equal(onW.length, 1, 'one task runs on the worker (spread)');
  const victim = onW[0]!;

  const pid = w1.proc!.pid!;
  const stoppedAt = Date.now();
  process.kill(pid, 'SIGSTOP');
  const down = await waitFor(async () => ((await byName('n2'))?.Status.State === 'down' ? (await byName('n2'))! : null), {
    timeoutMs: 20_000,
    intervalMs: 100,
    what: 'n2 down while stopped',
  });
  const tookMs = Date.now() - stoppedAt;
  t.ok(w1.proc && w1.exits.length === 0, 'the worker process is alive (stopped), not exited');
  t.comment(`n2 down ${tookMs} ms after SIGSTOP: ${down.Status.Message}`);
  // Which rule fires first depends on timing: the manager's wire idle timeout
  // (1.2 s without keepalives) closes the frozen peer's connection -> "session
  // lost"; 3 missed heartbeats (3 s); or gossip's suspicion ending in dead.
  t.match(down.Status.Message ?? '', /session lost|heartbeat failure|declared dead by gossip/, 'down for silence: the agent never closed its session');
  t.ok(tookMs >= 1_000, `not before its tasks are fenced (fence 1 s; down after ${tookMs} ms)`);
  t.ok(tookMs < 20_000, `down within the deadline (${tookMs} ms)`);

  await waitFor(
    async () => {
      const rs = await running();
      return rs.length === 2 && rs.every((x) => x.NodeID === n1) && !rs.some((x) => x.ID === victim.ID);
    },
    { timeoutMs: 20_000, intervalMs: 100, what: 'both tasks running on n1' },
  );
  t.pass("the stopped worker's task was replaced by one on n1");
  const old = (await tasks()).find((x) => x.ID === victim.ID);
  t.not(old?.DesiredState, 'running', `the old task is no longer desired running (${old?.DesiredState})`);

  process.kill(pid, 'SIGCONT');
  await waitFor(async () => (await byName('n2'))?.Status.State === 'ready', { timeoutMs: 20_000, intervalMs: 100, what: 'n2 ready again after SIGCONT' });
  t.pass('n2 is ready again after SIGCONT');
  await waitFor(async () => ['shutdown', 'complete', 'failed', 'orphaned', 'rejected', 'remove'].includes((await tasks()).find((x) => x.ID === victim.ID)?.Status.State ?? ''), {
    timeoutMs: 20_000,
    intervalMs: 100,
    what: 'the old task on n2 in a terminal state',
  });
  t.pass('the old task on n2 ended');
  t.equal((await running()).length, 2, 'still exactly two running tasks');
});
