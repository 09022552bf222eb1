/**
 * The task controller and the node's fencing lease, on simulated time:
 *
 * - a start refused for want of a lease (NO_LEASE: the supervisor never
 *   waits for one) is asked again until the lease is valid;
 * - while it waits, a task the managers stop wanting is never started (the
 *   case the whole-cluster simulation found: a node cut off, fenced and
 *   declared down, its task replaced elsewhere, and the node's start of the
 *   old assignment going on once it was taken back);
 * - a task that ended while its report was lost (the node crashed before a
 *   manager acknowledged it) is reported again when the managers send it
 *   with a live status, so its slot's successor does not wait forever;
 * - a step that throws outside the runtime's own error handling (the
 *   durable write of `ready` fails once, as a full disk would make it) is
 *   tried again 2 s later: the managers send a task again only when they
 *   change it, never for the node's own reports, so nothing else would;
 * - a step that keeps failing (the disk stays full) is tried after 2, 4,
 *   8, … s, at most a minute apart, with one error line per try; a later
 *   success starts the delays from 2 s again;
 * - a state whose durable write failed (ready, or the task's end) is
 *   written and reported by the next try: an end whose write failed used
 *   to be reported never, and its slot's successor waited for ever.
 */
import t from 'tap';
import { TaskController } from '../../src/worker/agent/task-controller.js';
import { RuntimeError } from '../../src/worker/runtime/interface.js';
import type { Task, TaskState, TaskStatus } from '../../src/model/index.js';
import { silentLogger, type Logger } from '../../src/util/log/interface.js';
import { recordingLogger } from '../helpers/logs.js';
import { SimTimers } from '../sim/timers.js';
import { FakeRuntime } from './fake-runtime.js';
import { MemoryTaskStore } from '../cluster-sim/sim-runtime.js';
import type { LocalTask, TaskStore } from '../../src/worker/agent/task-db.js';

/** A runtime whose starts need the node's lease, as the supervisor's do. */
class LeasedRuntime extends FakeRuntime {
  leaseValid = false;
  refused = 0;
  override async start(taskId: string): Promise<void> {
    if (!this.leaseValid) {
      this.refused++;
      throw new RuntimeError('NO_LEASE', "this node's lease is not valid now");
    }
    return super.start(taskId);
  }
}

function mkTask(desired: TaskState, observed: TaskState): Task {
  return {
    ID: 'task1',
    ServiceID: 's',
    Slot: 1,
    NodeID: 'n',
    DesiredState: desired,
    Spec: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '600'] } },
    Status: { Timestamp: new Date(0).toISOString(), State: observed, Message: '' },
  } as unknown as Task;
}

/** A task db whose write of the given state fails the first `failures` times. */
class FlakyStore extends MemoryTaskStore {
  failed = 0;
  constructor(
    public failOn: TaskState,
    public failures: number,
  ) {
    super();
  }
  override async put(row: LocalTask): Promise<void> {
    if (row.state === this.failOn && this.failures > 0) {
      this.failures--;
      this.failed++;
      throw new Error('SQLITE_FULL: database or disk is full');
    }
    return super.put(row);
  }
}

function setup(local: { state: TaskState; created: boolean } = { state: 'assigned', created: false }, db: TaskStore = new MemoryTaskStore(), log: Logger = silentLogger) {
  const timers = new SimTimers();
  const rt = new LeasedRuntime();
  const reports: TaskStatus[] = [];
  const task = mkTask('running', 'assigned');
  const c = new TaskController(
    { runtime: rt, db, report: (_id, st) => reports.push(st), log, alive: () => true, wall: () => timers.wall(), timers, leaseWaitMs: 5_000 },
    { id: task.ID, task, runtime: 'process', state: local.state, created: local.created, updatedMs: 0 },
  );
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  /** Moves simulated time on in 10 ms steps, letting each step's promise chains run (they arm the next timers). */
  const advance = async (ms: number) => {
    await flush();
    for (let left = ms; left > 0; left -= 10) {
      timers.advance(Math.min(10, left));
      await flush();
    }
  };
  return { c, rt, reports, advance, states: () => reports.map((r) => r.State) };
}

/** A task with a valid lease, on a task db that may fail, kicked once and its first step run. */
async function kicked(db: TaskStore, log?: Logger) {
  const r = setup(undefined, db, log);
  r.rt.leaseValid = true;
  r.c.kick();
  await r.advance(0);
  return r;
}

t.test('a start without a lease is asked again until the lease is valid', async (t) => {
  const { c, rt, advance, states } = setup();
  c.kick();
  await advance(0);
  t.equal(rt.refused, 1, 'the first start was refused: no lease yet');
  t.same(rt.running(), []);
  await advance(350);
  t.ok(rt.refused >= 3, `asked again every 100 ms (${rt.refused} refusals)`);
  t.same(states(), ['accepted', 'preparing', 'ready', 'starting'], 'starting meanwhile, not failed');
  rt.leaseValid = true;
  await advance(100);
  t.same(rt.running(), ['task1'], 'started once the lease is valid');
  t.equal(states().at(-1), 'running');
});

t.test('a task the managers stop wanting while its start waits for the lease is never started', async (t) => {
  const { c, rt, advance, states } = setup();
  c.kick();
  await advance(250);
  t.ok(rt.refused >= 2, 'waiting for the lease');
  // The node's next session: the task was replaced elsewhere while the node was away.
  c.update(mkTask('shutdown', 'starting'));
  await advance(100);
  rt.leaseValid = true;
  await advance(500);
  t.equal(rt.starts, 0, 'never started');
  t.same(rt.running(), []);
  t.equal(states().at(-1), 'shutdown', 'reported shut down');
});

t.test('a start that never gets a lease fails after leaseWaitMs', async (t) => {
  const { c, rt, reports, advance } = setup();
  c.kick();
  await advance(5_200);
  t.equal(rt.starts, 0);
  const last = reports.at(-1)!;
  t.equal(last.State, 'failed');
  t.match(last.Err, /lease is not valid/);
});

t.test('an end the managers never recorded is reported again when they send the task as live', async (t) => {
  // After a restart: the task db says it failed (fenced), and that report was lost with the node.
  const { c, reports, advance, states } = setup({ state: 'failed', created: true });
  c.update(mkTask('shutdown', 'running'));
  await advance(0);
  t.same(states(), ['failed'], 'its end is said again');
  t.match(reports[0]!.Message, /reported again/);
  c.update(mkTask('shutdown', 'failed'));
  await advance(0);
  t.same(states(), ['failed'], 'once recorded, not again');
});

t.test('a step whose durable write failed is tried again 2 s later, and the task runs', async (t) => {
  const db = new FlakyStore('ready', 1);
  const { rt, advance, states } = await kicked(db);
  t.equal(db.failed, 1, 'the write of ready failed');
  t.same(states(), ['accepted', 'preparing'], 'the task stopped there');
  t.same(rt.running(), []);
  await advance(1_900);
  t.same(rt.running(), [], 'not yet tried again 1.9 s later');
  await advance(200);
  t.same(rt.running(), ['task1'], 'tried again at 2 s: it runs');
  t.same(states(), ['accepted', 'preparing', 'ready', 'starting', 'running'], 'ready written and reported on the second try, then starting and running');
  t.equal(rt.starts, 1, 'started once');
});

t.test('a step that keeps failing is tried after 2, 4, 8 … s, at most a minute apart, one error line per try; a success resets the delay', async (t) => {
  const db = new FlakyStore('ready', 8);
  const logs = recordingLogger();
  const { rt, advance, states } = await kicked(db, logs.log);
  t.equal(db.failed, 1, 'the first write of ready failed');
  // Each later try comes exactly one delay after the one before (no jitter): 2, 4, 8, 16, 32, 60, 60 s.
  for (const delay of [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]) {
    const before = db.failed;
    await advance(delay - 100);
    t.equal(db.failed, before, `not tried again ${(delay - 100) / 1000} s after the last try`);
    await advance(100);
    t.equal(db.failed, before + 1, `tried again ${delay / 1000} s after it`);
  }
  t.equal(db.failed, 8, 'eight failed tries in all');
  const errors = logs.records.filter((r) => r.level === 'error').map((r) => r.msg);
  t.equal(errors.length, 8, 'one error line per try');
  t.match(errors[0], /SQLITE_FULL.*trying again in 2 s$/, 'the line says when it is tried again');
  t.match(errors[7], /trying again in 60 s$/);
  await advance(60_000);
  t.same(rt.running(), ['task1'], 'the ninth try succeeds: it runs');
  t.equal(rt.starts, 1, 'started once');
  t.equal(logs.records.filter((r) => r.level === 'error').length, 8, 'no error after it ran');
  // The success reset the back-off: the next failure (of its end's write) is tried 2 s later, not a minute.
  db.failOn = 'complete';
  db.failures = 1;
  rt.exit('task1', 0);
  await advance(0);
  t.equal(db.failed, 9, 'the write of its end failed');
  await advance(2_000);
  t.equal(states().at(-1), 'complete', 'tried again 2 s later');
  t.match(logs.records.filter((r) => r.level === 'error').at(-1)?.msg, /trying again in 2 s$/);
});

t.test('an end whose durable write failed is written and reported 2 s later, once (it used to be reported never)', async (t) => {
  const db = new FlakyStore('complete', 1);
  const { rt, advance, states } = await kicked(db);
  t.same(rt.running(), ['task1']);
  rt.exit('task1', 0);
  await advance(0);
  t.equal(db.failed, 1, 'the write of its end failed');
  t.equal(states().at(-1), 'running', 'an end not yet recorded is not reported');
  await advance(1_900);
  t.equal(states().at(-1), 'running', 'nor 1.9 s later');
  await advance(100);
  t.equal(states().at(-1), 'complete', 'written and reported 2 s later');
  t.equal((await db.all()).find((r) => r.id === 'task1')?.state, 'complete', 'the task db holds it');
  await advance(120_000);
  t.equal(states().filter((s) => s === 'complete').length, 1, 'reported once');
  t.equal(db.failed, 1, 'nothing failed again');
});

t.test('a task the managers forget while the write of its end waits to be tried again: the try never comes, its db row stays gone', async (t) => {
  const db = new FlakyStore('complete', 1);
  const { c, rt, advance, states } = await kicked(db);
  rt.exit('task1', 0);
  await advance(0);
  t.equal(db.failed, 1, 'the write of its end failed: a try is due in 2 s');
  await c.forget();
  t.equal((await db.all()).length, 0, 'forget removed its row');
  const reported = states().length;
  await advance(120_000);
  t.equal((await db.all()).length, 0, 'no late try wrote it back');
  t.equal(states().length, reported, 'nor reported it to managers that no longer know it');
});
