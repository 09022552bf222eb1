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
 *   change it, never for the node's own reports, so nothing else would.
 */
import t from 'tap';
import { TaskController } from '../../src/worker/agent/task-controller.js';
import { RuntimeError } from '../../src/worker/runtime/interface.js';
import type { Task, TaskState, TaskStatus } from '../../src/model/index.js';
import { silentLogger } from '../../src/util/log/interface.js';
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
    private readonly failOn: TaskState,
    private failures: number,
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

function setup(local: { state: TaskState; created: boolean } = { state: 'assigned', created: false }, db: TaskStore = new MemoryTaskStore()) {
  const timers = new SimTimers();
  const rt = new LeasedRuntime();
  const reports: TaskStatus[] = [];
  const task = mkTask('running', 'assigned');
  const c = new TaskController(
    { runtime: rt, db, report: (_id, st) => reports.push(st), log: silentLogger, alive: () => true, wall: () => timers.wall(), timers, leaseWaitMs: 5_000 },
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
  const { c, rt, advance, states } = setup(undefined, db);
  rt.leaseValid = true;
  c.kick();
  await advance(0);
  t.equal(db.failed, 1, 'the write of ready failed');
  t.same(states(), ['accepted', 'preparing'], 'the task stopped there');
  t.same(rt.running(), []);
  await advance(1_900);
  t.same(rt.running(), [], 'not yet tried again 1.9 s later');
  await advance(200);
  t.same(rt.running(), ['task1'], 'tried again at 2 s: it runs');
  t.same(states(), ['accepted', 'preparing', 'starting', 'running'], 'reported starting and running (the lost ready is not said again)');
  t.equal(rt.starts, 1, 'started once');
});
