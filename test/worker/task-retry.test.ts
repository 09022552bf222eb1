/**
 * The task controller, on simulated time: a step that throws outside the
 * runtime's own error handling (here the durable write of `ready` fails
 * once, as a full disk would make it) is tried again 2 s later, and the task
 * goes on to run. Nothing else would step it again: the managers send a task
 * again only when they change it, never for the node's own reports.
 */
import t from 'tap';
import { TaskController } from '../../src/worker/agent/task-controller.js';
import type { LocalTask } from '../../src/worker/agent/task-db.js';
import type { Task, TaskStatus } from '../../src/model/index.js';
import { silentLogger } from '../../src/util/log/interface.js';
import { SimTimers } from '../sim/timers.js';
import { FakeRuntime } from './fake-runtime.js';
import { MemoryTaskStore } from '../cluster-sim/sim-runtime.js';

/** A task db whose write of the given state fails the first `failures` times. */
class FlakyStore extends MemoryTaskStore {
  failed = 0;
  constructor(
    private readonly failOn: string,
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

t.test('a step whose durable write failed is tried again 2 s later, and the task runs', async (t) => {
  const timers = new SimTimers();
  const rt = new FakeRuntime();
  const db = new FlakyStore('ready', 1);
  const reports: TaskStatus[] = [];
  const task = {
    ID: 'task1',
    ServiceID: 's',
    Slot: 1,
    NodeID: 'n',
    DesiredState: 'running',
    Spec: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '600'] } },
    Status: { Timestamp: new Date(0).toISOString(), State: 'assigned', Message: '' },
  } as unknown as Task;
  const c = new TaskController(
    { runtime: rt, db, report: (_id, st) => reports.push(st), log: silentLogger, alive: () => true, wall: () => timers.wall(), timers },
    { id: task.ID, task, runtime: 'process', state: 'assigned', created: false, updatedMs: 0 },
  );
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  const advance = async (ms: number) => {
    await flush();
    for (let left = ms; left > 0; left -= 100) {
      timers.advance(Math.min(100, left));
      await flush();
    }
  };
  const states = () => reports.map((r) => r.State);

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
