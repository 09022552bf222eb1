/**
 * What the real agent (src/worker/agent) drives in the whole-cluster
 * simulation: a runtime whose "processes" start after a simulated delay,
 * run until stopped, fenced or their machine dies, and a task store that is
 * the machine's disk (it survives the agent's and the machine's crashes).
 *
 * The runtime keeps the task supervisor's fencing rules: a task starts only
 * under a valid lease (without one the start is refused at once, NO_LEASE,
 * as the supervisor's is, and the agent asks again), and when the lease
 * runs out with tasks running, every one of them is killed (exit 137,
 * "fenced").
 */
import type { ContainerInfo, ExitStatus, LogLine, Runtime, TaskRunSpec, TaskStats } from '../../src/worker/runtime/interface.js';
import { RuntimeError } from '../../src/worker/runtime/interface.js';
import type { LocalTask, TaskStore } from '../../src/worker/agent/task-db.js';
import { sleepOn, type Timers } from '../../src/util/timers.js';
import type { Rng } from '../../src/util/rng.js';

interface SimContainer {
  taskId: string;
  /** From the spec (its label and its Docker-style name `svc.slot.id`): what the simulation checks slots by. */
  serviceId: string;
  slot: number;
  state: 'created' | 'running' | 'exited';
  exit?: ExitStatus;
  waiters: ((e: ExitStatus) => void)[];
  pid: number;
}

export class MemoryTaskStore implements TaskStore {
  private readonly rows = new Map<string, LocalTask>();

  async all(): Promise<LocalTask[]> {
    return [...this.rows.values()].map((r) => structuredClone(r));
  }

  async put(t: LocalTask): Promise<void> {
    this.rows.set(t.id, structuredClone(t));
  }

  async remove(id: string): Promise<void> {
    this.rows.delete(id);
  }

  async close(): Promise<void> {}
}

export class SimRuntime implements Runtime {
  readonly name = 'process' as const;
  private readonly containers = new Map<string, SimContainer>();
  private nextPid = 100;

  constructor(
    private readonly timers: Timers,
    private readonly rng: Rng,
    /** The node's lease, as its supervisor holds it. */
    private readonly leaseValid: () => boolean,
    /** A task began or stopped running (the simulation checks its slots then). */
    private readonly onChange: () => void,
  ) {}

  /** The tasks running now, with their service and slot. */
  running(): { taskId: string; serviceId: string; slot: number }[] {
    return [...this.containers.values()].filter((c) => c.state === 'running').map((c) => ({ taskId: c.taskId, serviceId: c.serviceId, slot: c.slot }));
  }

  /** The lease ran out: the supervisor ends itself and every task with it. */
  fence(): number {
    let n = 0;
    for (const c of this.containers.values()) {
      if (c.state !== 'running') continue;
      n++;
      this.end(c, { exitCode: 137, signal: 'SIGKILL', oomKilled: false, finishedAt: new Date(this.timers.wall()).toISOString(), message: 'fenced: no manager renewed the node lease' });
    }
    return n;
  }

  private end(c: SimContainer, exit: ExitStatus): void {
    c.state = 'exited';
    c.exit = exit;
    const w = c.waiters;
    c.waiters = [];
    for (const f of w) f(exit);
    this.onChange();
  }

  private info(c: SimContainer): ContainerInfo {
    return { taskId: c.taskId, runtimeId: `sim-${c.taskId}`, state: c.state, pid: c.pid, ...(c.exit ? { exit: c.exit } : {}) };
  }

  private get(taskId: string): SimContainer {
    const c = this.containers.get(taskId);
    if (!c) throw new RuntimeError('NOT_FOUND', `no task ${taskId} here`);
    return c;
  }

  async available(): Promise<{ ok: boolean }> {
    return { ok: true };
  }

  async prepare(_spec: TaskRunSpec): Promise<void> {}

  async create(spec: TaskRunSpec): Promise<ContainerInfo> {
    const c: SimContainer = {
      taskId: spec.taskId,
      serviceId: spec.labels['com.docker.swarm.service.id'] ?? '',
      slot: Number(spec.name.split('.')[1]),
      state: 'created',
      waiters: [],
      pid: this.nextPid++,
    };
    this.containers.set(spec.taskId, c);
    return this.info(c);
  }

  async start(taskId: string): Promise<void> {
    const c = this.get(taskId);
    if (!this.leaseValid()) throw new RuntimeError('NO_LEASE', "this node's lease is not valid now");
    // The process takes a moment to start; its fence holds from the moment it was asked for.
    await sleepOn(this.timers, 20 + this.rng.int(200));
    if (c.state !== 'created') throw new RuntimeError('FAILED', `task ${taskId} is ${c.state}`);
    // The lease ran out meanwhile: the fence has ended the supervisor, and the task with it.
    if (!this.leaseValid()) {
      this.end(c, { exitCode: 137, signal: 'SIGKILL', oomKilled: false, finishedAt: new Date(this.timers.wall()).toISOString(), message: 'fenced: no manager renewed the node lease' });
      return;
    }
    c.state = 'running';
    this.onChange();
  }

  wait(taskId: string): Promise<ExitStatus> {
    const c = this.get(taskId);
    if (c.exit) return Promise.resolve(c.exit);
    return new Promise((r) => c.waiters.push(r));
  }

  async stop(taskId: string, _graceMs: number): Promise<void> {
    const c = this.get(taskId);
    if (c.state !== 'running') return;
    // SIGTERM, and the process exits a moment later.
    await sleepOn(this.timers, 1 + this.rng.int(30));
    if (c.state === 'running') this.end(c, { exitCode: 143, signal: 'SIGTERM', oomKilled: false, finishedAt: new Date(this.timers.wall()).toISOString() });
  }

  async remove(taskId: string): Promise<void> {
    const c = this.containers.get(taskId);
    if (c?.state === 'running') throw new RuntimeError('FAILED', `task ${taskId} is running`);
    this.containers.delete(taskId);
  }

  async *logs(): AsyncIterable<LogLine> {}

  async stats(): Promise<TaskStats> {
    return {};
  }

  async inspect(taskId: string): Promise<ContainerInfo | null> {
    const c = this.containers.get(taskId);
    return c ? this.info(c) : null;
  }

  async list(): Promise<ContainerInfo[]> {
    return [...this.containers.values()].map((c) => this.info(c));
  }

  async exec(): Promise<{ exitCode: number; output: string }> {
    throw new RuntimeError('FAILED', 'the simulated runtime runs no commands');
  }
}
