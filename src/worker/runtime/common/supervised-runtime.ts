import type { ContainerInfo, ExitStatus, LogLine, LogOptions } from '../interface.js';
import { RuntimeError } from '../interface.js';
import type { BaseInfo, SupervisedTasks, TaskFiles } from './supervised.js';

/**
 * The part of a supervisor-run runtime (process, oci) that is the same for
 * both: once a task is created, starting, waiting, stopping, removing, logs
 * and listing go through its supervisor's files, whatever runs inside.
 * Subclasses create tasks, read stats and exec their own way.
 */
export abstract class SupervisedRuntime<I extends BaseInfo> {
  protected abstract readonly tasks: SupervisedTasks<I>;

  start(taskId: string): Promise<void> {
    return this.tasks.start(taskId);
  }

  wait(taskId: string): Promise<ExitStatus> {
    return this.tasks.wait(taskId);
  }

  stop(taskId: string, graceMs: number): Promise<void> {
    return this.tasks.stop(taskId, graceMs);
  }

  remove(taskId: string): Promise<void> {
    return this.tasks.remove(taskId);
  }

  logs(taskId: string, opts: LogOptions): AsyncIterable<LogLine> {
    return this.tasks.logs(taskId, opts);
  }

  inspect(taskId: string): Promise<ContainerInfo | null> {
    return this.tasks.inspect(taskId);
  }

  list(): Promise<ContainerInfo[]> {
    return this.tasks.list();
  }

  /** The task's files, for exec: refused unless the task runs. */
  protected async runningTask(taskId: string): Promise<TaskFiles<I>> {
    const t = this.tasks.mustRead(taskId);
    if ((await this.tasks.state(t)).state !== 'running') throw new RuntimeError('FAILED', `task ${taskId} is not running`);
    return t;
  }
}
