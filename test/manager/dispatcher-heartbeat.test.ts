import t from 'tap';
import { Dispatcher } from '../../src/manager/dispatcher/dispatcher.js';
import { SessionOpen, StatusReport, type SessionFrame } from '../../src/protocol/dispatcher.js';
import { setup } from './dispatcher-agents.js';
import type { StoreOp } from '../../src/manager/store/commands.js';
import type { Stream } from '../../src/wire/interface.js';
import { WsTransport } from '../../src/wire/ws-transport.js';
import { FakeContext } from '../api/fake-context.js';
import { waitFor } from '../helpers/wait.js';
import { SimTimers } from '../sim/timers.js';
import { systemTimers, type Timers } from '../../src/util/timers.js';

/**
 * The dispatcher on its own (a real ws Transport, a FakeContext store),
 * driven by a hand-rolled agent so that heartbeats can stop while the
 * session stays open — which a real agent never does on purpose:
 * - an agent silent for missedHeartbeats periods leaves its node
 *   'disconnected' even though its session (and connection) is still open —
 *   never 'down': replacing tasks is the fencing lease's call
 *   (manager/lease), made through markDown;
 * - markDown commits the node down and makes a connected agent register again;
 * - status reports are batched: a burst becomes a few Raft commits, and
 *   commits of status come at most every statusFlushMs.
 */
const nodeState = (ctx: FakeContext, id: string) => ctx.store.get('node', id)!.Status;

t.test('heartbeats stop while the session stays open: disconnected after missedHeartbeats periods, never down', async (t) => {
  // The dispatcher runs on simulated time: the test moves the clock, so the bounds are exact, not wall-clock guesses.
  const hb = 300;
  const check = 75; // the dispatcher checks liveness every heartbeatMs / 4 (50–250 ms)
  const time = new SimTimers();
  const { ctx, d, connect, logs } = await setup(t, { heartbeatMs: hb, missedHeartbeats: 3 }, time);
  // (The manager's own seeded node has no agent here: it is disconnected too; only the worker is watched.)
  const downs = (id: string) => logs.filter((l) => l.startsWith(`node ${id} down`)).length;
  const disconnects = (id: string) => logs.filter((l) => l.startsWith(`node ${id} disconnected`)).length;
  const w = ctx.addNode({ hostname: 'w1', state: 'down' });
  const a = await connect(w);
  await waitFor(() => nodeState(ctx, w).State === 'ready', { what: 'the worker registered ready' });

  // Heartbeating every half period for 6 periods keeps it up.
  for (let i = 0; i < 12; i++) {
    await a.heartbeat();
    time.advance(hb / 2);
  }
  t.equal(nodeState(ctx, w).State, 'ready', 'a node that heartbeats stays ready');
  t.equal(disconnects(w), 0, 'no disconnection of it');
  t.equal(d.absentSince(w), undefined, 'its agent counts as present');
  t.equal(d.metrics.heartbeats, 12, 'heartbeats counted');

  // Silence, with the stream and the connection left open: exactly 3 periods are tolerated.
  await a.heartbeat();
  time.advance(hb * 3);
  await new Promise((r) => setImmediate(r));
  t.equal(nodeState(ctx, w).State, 'ready', `still ready ${hb * 3} ms after the last heartbeat`);
  t.equal(d.sessionCount(), 1, 'and its session stands');
  time.advance(check);
  await waitFor(() => nodeState(ctx, w).State === 'disconnected', { timeoutMs: 10_000, intervalMs: 10, what: 'the silent node disconnected' });
  t.ok(a.conn.isOpen, 'the connection was never closed by the agent');
  t.match(nodeState(ctx, w).Message, new RegExp(`missed heartbeats: nothing heard for ${hb * 3 + check} ms`), 'the reason says heartbeats, and how long');
  t.match(await a.ended, /missed 3 heartbeats/, 'the dispatcher reset the stale session');
  t.equal(d.sessionCount(), 0);
  t.equal(disconnects(w), 1, 'one disconnection');
  t.equal(downs(w), 0, 'and no down decision: its tasks may still run');
  t.equal(d.absentSince(w), time.now(), 'its agent counts as absent from now (the lease grace period runs from here)');
  await t.rejects(a.heartbeat(), /no such session/, 'a late heartbeat on the old session is refused');

  // Coming back: a new session makes it ready again.
  const b = await connect(w);
  await waitFor(() => nodeState(ctx, w).State === 'ready', { what: 'ready again after a new session' });
  b.stream.reset('done');
});

t.test("the cluster's period is the agents' period: a change reaches agents in the answers to their heartbeats, and shortening it disconnects no one", async (t) => {
  const time = new SimTimers();
  const { ctx, connect, logs } = await setup(t, { heartbeatMs: 1_000, missedHeartbeats: 3 }, time);
  const w = ctx.addNode({ hostname: 'w1', state: 'down' });
  const a = await connect(w);
  await waitFor(() => nodeState(ctx, w).State === 'ready', { what: 'the worker registered ready' });
  t.equal((a.frames.find((f) => f.type === 'session') as { heartbeatMs: number }).heartbeatMs, 1_000, 'the session frame names the cluster period');
  // `swarm update --dispatcher-heartbeat 100ms`
  const cur = ctx.store.list('cluster')[0]!;
  ctx.mustApply([{ op: 'update', kind: 'cluster', object: { ...cur, Spec: { ...cur.Spec, Dispatcher: { HeartbeatPeriod: 100e6 } } } }]);
  // The agent still beats every 1 s until an answer tells it otherwise: judged by the old period.
  time.advance(900);
  await new Promise((r) => setImmediate(r));
  t.equal(nodeState(ctx, w).State, 'ready', 'not disconnected 900 ms into a period it was told was 1 s');
  t.equal(await a.heartbeat(), 100, 'the answer names the new period');
  time.advance(250);
  await new Promise((r) => setImmediate(r));
  t.equal(nodeState(ctx, w).State, 'ready', 'within 3 new periods of its last beat: still ready');
  time.advance(100);
  await waitFor(() => nodeState(ctx, w).State === 'disconnected', { timeoutMs: 10_000, intervalMs: 10, what: 'silent for over 3 new periods: disconnected' });
  t.equal(logs.filter((l) => l.includes(`node ${w} disconnected`)).length, 1, 'disconnected once, by the new period');
});

t.test('markDown (the fencing lease decided): committed once, and a connected agent registers again', async (t) => {
  const { ctx, d, connect, logs } = await setup(t, { heartbeatMs: 5_000, missedHeartbeats: 3 });
  const w = ctx.addNode({ hostname: 'w1', state: 'down' });
  const a = await connect(w);
  await waitFor(() => nodeState(ctx, w).State === 'ready', { what: 'the worker registered ready' });
  d.markDown(w, 'fenced: test');
  d.markDown(w, 'fenced: test again');
  await waitFor(() => nodeState(ctx, w).State === 'down', { what: 'the node down' });
  t.match(nodeState(ctx, w).Message, /fenced: test/, 'the reason is the lease\'s');
  t.equal(logs.filter((l) => l.startsWith(`node ${w} down`)).length, 1, 'one proposal while one is in flight');
  t.match(await a.ended, /declared down: register again/, 'the agent is made to register again');
  const b = await connect(w);
  await waitFor(() => nodeState(ctx, w).State === 'ready', { what: 'ready again after registering' });
  b.stream.reset('done');

  // A follower declares nothing.
  const w2 = ctx.addNode({ hostname: 'w2' });
  d.stopLeading();
  d.markDown(w2, 'fenced: test');
  t.equal(nodeState(ctx, w2).State, 'ready', 'a dispatcher that does not lead declares nothing');
});

t.test('admission: an agent the lease is declaring down is refused until the down state is committed', async (t) => {
  const ctx = new FakeContext();
  ctx.init();
  const server = new WsTransport({ nodeId: ctx.selfId });
  const addr = await server.listen({ host: '127.0.0.1', port: 0 });
  let refuse: string | null = 'the node is being declared down';
  const d = new Dispatcher({ transport: server, ctx, managers: () => [], admit: () => refuse });
  d.startLeading();
  const tr = new WsTransport({ nodeId: 'w9' });
  t.teardown(async () => {
    d.close();
    await tr.close();
    await server.close();
  });
  const w = ctx.addNode({ hostname: 'w9', state: 'down' });
  const conn = await tr.connect(addr, { timeoutMs: 5_000 });
  const open = () => {
    const s = conn.openStream(SessionOpen, { type: 'open', nodeId: w, description: { hostname: 'w9', os: 'linux', arch: 'x86_64', nanoCpus: 1e9, memoryBytes: 1e9, labels: {}, runtimes: ['process'], engineVersion: '0.1.0', clusterAddr: '127.0.0.9:4242', gossipAddr: '127.0.0.9:4242' } }) as Stream<SessionFrame>;
    return new Promise<string>((resolve) => s.onData((f) => f.type === 'session' && resolve('session'), (err) => resolve(err?.message ?? 'ended')));
  };
  t.match(await open(), /UNAVAILABLE: the node is being declared down/);
  t.equal(d.metrics.sessionsRefused, 1);
  refuse = null;
  t.equal(await open(), 'session');
});

t.test('status reports are batched into few commits, at most one per statusFlushMs', async (t) => {
  const flushMs = 100;
  // Commits are timed on the dispatcher's own clock: the last now() it read before committing is
  // the flush's start (flush() commits synchronously after it). A clock read in the test instead
  // adds the OS's scheduling delays on a loaded machine (one fresh run saw a 92 ms "gap").
  let lastNow = 0;
  const clock: Timers = { ...systemTimers, now: () => (lastNow = systemTimers.now()) };
  const { ctx, d, connect } = await setup(t, { heartbeatMs: 1_000, statusFlushMs: flushMs }, clock);
  const w = ctx.addNode({ hostname: 'w1', state: 'down' });
  const a = await connect(w);
  await waitFor(() => nodeState(ctx, w).State === 'ready', { what: 'the worker registered ready' });
  const tasks = Array.from({ length: 200 }, (_, i) => ctx.addTask('svc', i + 1, { nodeId: w, state: 'assigned' }));
  const other = ctx.addTask('svc', 999, { nodeId: ctx.selfId, state: 'assigned' });

  // Record when status commits happen.
  const statusCommits: { at: number; n: number }[] = [];
  const commit = ctx.commit.bind(ctx);
  ctx.commit = (ops: StoreOp[]) => {
    const n = ops.filter((o) => o.op === 'patchTask').length;
    if (n > 0) statusCommits.push({ at: lastNow, n });
    return commit(ops);
  };
  const report = (ids: string[], state: 'running' | 'starting') =>
    a.conn.request(StatusReport, { nodeId: w, sessionId: a.sessionId, updates: ids.map((taskId) => ({ taskId, status: { Timestamp: new Date().toISOString(), State: state, Message: state } })) }, { timeoutMs: 10_000 });

  // A burst: 100 reports of one update each, all at once.
  const burst = await Promise.all(tasks.slice(0, 100).map((id) => report([id], 'starting')));
  t.same(burst.map((r) => r.accepted), burst.map(() => 1), 'every report acknowledged only once committed, each accepted');
  t.ok(statusCommits.length <= 3, `100 reports in a burst -> ${statusCommits.length} commits`);
  t.equal(d.metrics.statusUpdates, 100);
  t.equal(d.metrics.statusBatches, statusCommits.length);
  t.ok(tasks.slice(0, 100).every((id) => ctx.store.get('task', id)!.Status.State === 'starting'), 'all applied');

  // A trickle over ~1 s: a report every ~10 ms; commits stay >= statusFlushMs apart.
  statusCommits.length = 0;
  const pending: Promise<{ accepted: number }>[] = [];
  for (const id of tasks.slice(100)) {
    pending.push(report([id], 'running'));
    await new Promise((r) => setTimeout(r, 10));
  }
  await Promise.all(pending);
  const span = statusCommits.at(-1)!.at - statusCommits[0]!.at;
  t.ok(statusCommits.length >= 2, `a trickle is still flushed as it goes (${statusCommits.length} commits)`);
  t.ok(statusCommits.length <= Math.ceil(span / flushMs) + 2, `${statusCommits.length} commits over ${Math.round(span)} ms: no more than one per ${flushMs} ms`);
  const gaps = statusCommits.slice(1).map((c, i) => c.at - statusCommits[i]!.at);
  t.ok(gaps.every((g) => g >= flushMs - 5), `status commits are >= ${flushMs} ms apart (gaps ${gaps.map((g) => Math.round(g)).join(', ')})`);
  t.equal(statusCommits.reduce((s, c) => s + c.n, 0), 100, 'every update in some commit, none twice');

  // A node reports only on its own tasks.
  const r = await report([other], 'running');
  t.equal(r.accepted, 0, "a report on another node's task is not accepted");
  t.equal(ctx.store.get('task', other)!.Status.State, 'assigned', 'and not applied');
});
