/**
 * An in-memory Runtime for agent tests: "containers" are records, exits are
 * triggered by the test. The state lives in the object, so a new Agent given
 * the same FakeRuntime sees what an agent restart would see.
 */
import type { ContainerInfo, ExitStatus, LogLine, Runtime, TaskRunSpec, TaskStats } from '../../src/worker/runtime/interface.js';
import { RuntimeError } from '../../src/worker/runtime/interface.js';
import type { HealthConfig } from '../../src/model/index.js';

interface Box {
  spec: TaskRunSpec;
  state: 'created' | 'running' | 'exited';
  exit?: ExitStatus;
  waiters: ((e: ExitStatus) => void)[];
  pid: number;
}

export class FakeRuntime implements Runtime {
  readonly name = 'process' as const;
  readonly boxes = new Map<string, Box>();
  creates = 0;
  starts = 0;
  private nextPid = 1000;
  /** Images that prepare() refuses. */
  readonly missingImages = new Set<string>();

  async available() {
    return { ok: true };
  }
  async prepare(spec: TaskRunSpec): Promise<void> {
    if (this.missingImages.has(spec.image)) throw new RuntimeError('IMAGE_NOT_FOUND', `image ${spec.image} not found`);
  }
  async create(spec: TaskRunSpec): Promise<ContainerInfo> {
    const b = this.boxes.get(spec.taskId);
    if (!b) {
      this.creates++;
      this.boxes.set(spec.taskId, { spec, state: 'created', waiters: [], pid: this.nextPid++ });
    }
    return (await this.inspect(spec.taskId))!;
  }
  async start(taskId: string): Promise<void> {
    const b = this.box(taskId);
    this.starts++;
    b.state = 'running';
  }
  wait(taskId: string): Promise<ExitStatus> {
    const b = this.box(taskId);
    if (b.exit) return Promise.resolve(b.exit);
    return new Promise((r) => b.waiters.push(r));
  }
  /** Test hook: the task exits with `code`. */
  exit(taskId: string, code: number, oomKilled = false): void {
    const b = this.box(taskId);
    if (b.state === 'exited') return;
    b.state = 'exited';
    b.exit = { exitCode: code, oomKilled, finishedAt: new Date().toISOString() };
    for (const w of b.waiters.splice(0)) w(b.exit);
  }
  async stop(taskId: string): Promise<void> {
    const b = this.boxes.get(taskId);
    if (!b) throw new RuntimeError('NOT_FOUND', `no task ${taskId}`);
    this.exit(taskId, 143);
  }
  /** Test hook: the HEALTHCHECK every image has (none when unset). */
  imageHealth: HealthConfig | undefined;
  async imageHealthCheck(): Promise<HealthConfig | undefined> {
    return this.imageHealth;
  }
  /** Test hook: what a command exec'd in a task (a health check) exits with; 0 when unset. */
  readonly execExit = new Map<string, number>();
  execs = 0;
  async exec(taskId: string, cmd: string[]): Promise<{ exitCode: number; output: string }> {
    const b = this.box(taskId);
    if (b.state !== 'running') throw new RuntimeError('NOT_FOUND', `task ${taskId} is not running`);
    this.execs++;
    const exitCode = this.execExit.get(taskId) ?? 0;
    return { exitCode, output: `${cmd.join(' ')}: exit ${exitCode}` };
  }
  async remove(taskId: string): Promise<void> {
    this.boxes.delete(taskId);
  }
  async *logs(): AsyncIterable<LogLine> {}
  async stats(): Promise<TaskStats> {
    return {};
  }
  async inspect(taskId: string): Promise<ContainerInfo | null> {
    const b = this.boxes.get(taskId);
    if (!b) return null;
    return { taskId, runtimeId: `fake-${taskId}`, state: b.state, pid: b.pid, ...(b.exit ? { exit: b.exit } : {}) };
  }
  async list(): Promise<ContainerInfo[]> {
    return Promise.all([...this.boxes.keys()].map((k) => this.inspect(k) as Promise<ContainerInfo>));
  }
  running(): string[] {
    return [...this.boxes].filter(([, b]) => b.state === 'running').map(([k]) => k);
  }
  private box(taskId: string): Box {
    const b = this.boxes.get(taskId);
    if (!b) throw new RuntimeError('NOT_FOUND', `no task ${taskId}`);
    return b;
  }
}
