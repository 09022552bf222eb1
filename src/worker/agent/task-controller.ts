import { isTerminal, stateRank, unsupportedBy, type Task, type TaskState, type TaskStatus } from '../../model/index.js';
import { TASK_END_MESSAGE } from './task-messages.js';
import type { ContainerInfo, ExitStatus, Runtime } from '../runtime/interface.js';
import { RuntimeError } from '../runtime/interface.js';
import { stopGraceMs, toRunSpec, usesSecrets, withProcessNetworking, withSecretFiles } from './run-spec.js';
import type { SecretFiles } from './secret-files.js';
import type { LocalTask, TaskStore } from './task-db.js';
import type { TaskNetworks } from './task-networks.js';
import { onNetwork } from '../../overlay-net/plan.js';
import { HealthMonitor, healthPolicy, mergeHealth, type HealthPolicy, type HealthReport } from './health.js';
import { awaitListening } from './listening.js';
import { sleepOn, type TimerHandle, type Timers } from '../../util/timers.js';
import { Backoff, type BackoffOptions } from '../../util/backoff.js';
import { seededRng } from '../../util/rng.js';
import type { Logger } from '../../util/log/interface.js';

export interface ControllerDeps {
  runtime: Runtime;
  db: TaskStore;
  /** `again`: a status already reported once, said again (not a new transition: not counted). */
  report(taskId: string, status: TaskStatus, again?: boolean): void;
  /** The agent's logger; the controller adds task and service. */
  log: Logger;
  /** False once the agent stopped: a stopped agent neither writes nor reports (its successor re-adopts). */
  alive(): boolean;
  /** Epoch ms for status timestamps and the task db. */
  wall(): number;
  /** The node's secret and config data (tmpfs per task). */
  secrets?: SecretFiles;
  /** The node's overlay data plane (absent: not root, or no iproute2/nftables). */
  networks?: TaskNetworks;
  /** Clocks and timers for health checks (tests: simulated time). */
  timers: Timers;
  /**
   * How long a task that publishes TCP ports (on an overlay network, in a
   * namespace of its own) may take to listen on them before it is reported
   * running anyway. Default 10 s.
   */
  listenWaitMs?: number;
  /** How long a start may wait for the node's lease to be valid (default 5 s), asking every 100 ms. */
  leaseWaitMs?: number;
}

const DEFAULT_LISTEN_WAIT_MS = 10_000;
/** A node that just (re)joined is granted its lease within a renewal period (100 ms) of registering. */
const DEFAULT_LEASE_WAIT_MS = 5_000;
const LEASE_RETRY_MS = 100;
/**
 * A step that failed unexpectedly (a durable write on a full disk, say) is
 * tried again 2 s later, then after 4, 8, … up to a minute between tries,
 * until a step succeeds: a node whose disk stays full must not log an
 * error for each of its hundreds of tasks every 2 s (those logs fill the
 * disk further). No jitter: the tries of many tasks that failed together
 * meet in one group commit of the task db (task-db.ts), which is cheaper
 * than spreading them out.
 */
export const STEP_RETRY: Readonly<BackoffOptions> = Object.freeze({ initialMs: 2_000, maxMs: 60_000, factor: 2, jitter: 0 });

/**
 * One task on this node: walks it through accepted → preparing → ready →
 * starting → running → complete/failed (or shutdown when the managers want
 * it stopped), driving the runtime and reporting every state. Steps run one
 * at a time; a newer assignment simply re-kicks the state machine.
 */
export class TaskController {
  task: Task;
  state: TaskState;
  private created: boolean;
  private chain: Promise<void> = Promise.resolve();
  private watching = false;
  private stopping = false;
  private containerId: string | undefined;
  private pid: number | undefined;
  private health: HealthMonitor | null = null;
  /** The last status reported, to say again if the managers did not record it. */
  private lastReport: TaskStatus | null = null;
  private healthNow: HealthReport | null = null;
  private readonly log: Logger;
  // No jitter (STEP_RETRY): the random stream's values are multiplied by 0.
  private readonly stepRetry = new Backoff(STEP_RETRY, seededRng(0));
  /**
   * A state whose durable write failed: this.state already holds it (what
   * runs next must see it), but neither the task db nor the managers do.
   * The next step writes and reports it first: an end that failed to be
   * recorded would otherwise never be reported, and its slot's successor
   * would wait for ever.
   */
  private unsaved: { state: TaskState; message: string; err: string | undefined; exitCode: number | undefined } | null = null;
  /** forget() began: the managers no longer track the task, and no step runs again. */
  private forgotten = false;
  /** The one pending retry of a failed step: kicks that fail meanwhile do not add more. */
  private retryTimer: TimerHandle | null = null;

  constructor(
    private readonly deps: ControllerDeps,
    local: LocalTask,
  ) {
    this.task = local.task;
    this.log = deps.log.child({ task: local.task.ID, service: local.task.ServiceID });
    this.state = local.state;
    this.created = local.created;
    // An end read back from the task db after a restart: its report may have been lost with the
    // node, and is said again if the managers still send the task as live (update()).
    if (isTerminal(local.state)) {
      this.lastReport = { Timestamp: new Date(local.updatedMs).toISOString(), State: local.state, Message: `${local.state} (reported again: it ended while this node was out of touch)` };
    }
  }

  /** A newer version of the task arrived from the managers. */
  update(task: Task): void {
    this.task = task;
    // The managers still send it with a live status after it ended here: the report of its end
    // was lost (the session kept it in memory, and this node crashed or restarted before a
    // manager acknowledged it). Say it again, or its slot's successor waits for it forever.
    // Only an end already reported (or read back from the task db): an end still being recorded
    // (its state set, its report waiting for the durable write) is reported by its own step.
    if (this.lastReport && isTerminal(this.lastReport.State) && !isTerminal(task.Status.State) && this.deps.alive()) {
      this.deps.report(task.ID, this.lastReport, true);
    }
    this.kick();
  }

  kick(): void {
    this.run(() => this.step());
  }

  /**
   * Runs `fn` after whatever runs now: every change of this task goes
   * through here, one at a time. What fails outside the runtime's own error
   * handling (a durable write of its state, say) is tried again by a later
   * step (STEP_RETRY): the managers send a task again only when they change
   * it, so nothing else would.
   */
  private run(fn: () => Promise<void>): void {
    this.chain = this.chain.then(fn).then(
      () => this.stepRetry.reset(),
      (err: Error) => {
        const again = this.deps.alive() && !this.forgotten && (!isTerminal(this.state) || this.unsaved !== null) && this.retryTimer === null;
        const delay = again ? this.stepRetry.next() : 0;
        this.log.error(`task ${this.task.ID}: ${err.message}${again ? `; trying again in ${delay / 1000} s` : ''}`);
        if (!again) return;
        this.retryTimer = this.deps.timers.setTimeout(() => {
          this.retryTimer = null;
          this.kick();
        }, delay);
      },
    );
  }

  /** Waits for whatever step is running (tests, shutdown). */
  settled(): Promise<void> {
    return this.chain;
  }

  /** Re-adopts a task found running in the runtime after an agent restart. */
  adopt(info: ContainerInfo): void {
    this.containerId = info.runtimeId;
    if (info.pid !== undefined) this.pid = info.pid;
    if (info.state === 'running') {
      // With a health check it resumes `starting` (the db keeps no record of a pass): it is
      // (re)reported running on its next pass, and failed if it has turned unhealthy meanwhile.
      this.state = 'running';
      this.created = true;
      this.watchExit();
      this.run(async () => {
        const policy = await this.healthPolicy();
        if (policy && this.state === 'running') {
          this.state = 'starting';
          this.watchHealth(policy);
        }
      });
    } else if (info.state === 'exited' && info.exit) {
      this.created = true;
      this.run(() => this.exited(info.exit!));
    } else if (info.state === 'created') {
      this.created = true;
      if (stateRank(this.state) > stateRank('ready')) this.state = 'ready';
    }
    this.kick();
  }

  private wantsStop(): boolean {
    return stateRank(this.task.DesiredState) >= stateRank('shutdown');
  }

  private async step(): Promise<void> {
    if (this.forgotten) return;
    if (this.unsaved && this.deps.alive()) {
      const u = this.unsaved;
      this.unsaved = null;
      await this.move(u.state, u.message, u.err, u.exitCode);
    }
    if (isTerminal(this.state) || !this.deps.alive()) return;
    if (this.wantsStop()) return this.shutdown();
    const rt = this.deps.runtime;
    if (stateRank(this.state) < stateRank('accepted')) await this.move('accepted', 'accepted');
    if (this.state === 'accepted') {
      await this.move('preparing', 'preparing');
      try {
        // What this runtime would drop is refused (model/runtime-support.ts); the API already refused
        // what no runtime honours, and what a named runtime does not.
        const unsupported = unsupportedBy(this.task.Spec.ContainerSpec, rt.name);
        if (unsupported.length > 0) throw new Error(`ContainerSpec.${unsupported.join(', ContainerSpec.')} ${unsupported.length > 1 ? 'are' : 'is'} not supported by the ${rt.name} runtime`);
        let spec = toRunSpec(this.task);
        const files = await this.deps.secrets?.materialize(this.task, rt.name);
        if (files) spec = withSecretFiles(spec, files, rt.name);
        if (rt.name === 'process') spec = withProcessNetworking(spec, this.task, { resolver: this.deps.networks !== undefined });
        if (onNetwork(this.task) && rt.name !== 'process') {
          // Never started without the network it asked for: no data plane here means rejected (and placed elsewhere).
          if (!this.deps.networks) throw new Error('this node cannot join overlay networks (its data plane needs root, iproute2 and nftables)');
          spec = { ...spec, network: await this.deps.networks.attach(this.task) };
        }
        // A pull or a fetch from a peer can take a while: its progress is the task's message (service create shows it).
        await rt.prepare(spec, (message) => void this.move('preparing', message).catch(() => {}));
        const info = await rt.create(spec);
        this.containerId = info.runtimeId;
        this.created = true;
      } catch (err) {
        // Swarm reports a task that could not even be set up as rejected.
        return this.move('rejected', 'preparing failed', errText(err));
      }
      await this.move('ready', 'ready');
    }
    if (this.wantsStop()) return this.shutdown();
    if (this.state === 'ready' && this.task.DesiredState === 'running') {
      await this.move('starting', 'starting');
      try {
        if (!(await this.startUnderLease(rt))) return this.shutdown();
        const info = await rt.inspect(this.task.ID);
        if (info?.pid !== undefined) this.pid = info.pid;
      } catch (err) {
        return this.move('failed', 'starting failed', errText(err));
      }
      this.watchExit();
      // With a health check the task stays `starting` until its first pass (Swarm's rule):
      // only then is it running, counted by a rolling update, and an endpoint.
      const policy = await this.healthPolicy();
      if (policy) {
        this.watchHealth(policy);
        // Reported again, now with its health (starting): `service ps` shows it from the first poll.
        return this.move('starting', 'starting');
      }
      // Without a health check, a task that publishes ports stays `starting` until it listens on
      // them: from `running` on it is a load-balancer backend (and a start-first update stops its
      // predecessor), and a backend that has not bound its port yet refuses connections.
      const ports = rt.name !== 'process' && onNetwork(this.task) && this.pid !== undefined ? (this.deps.networks?.publishedTcpPorts(this.task) ?? []) : [];
      if (ports.length > 0) return this.awaitPorts(this.pid!, ports);
      await this.move('running', 'started');
    }
  }

  /**
   * Starts the task once the node's fencing lease is valid. The runtime
   * refuses a start without one (NO_LEASE) instead of waiting for it: while
   * a start waited, the managers could declare this node down, replace the
   * task elsewhere and take the node back, and the start would then go on
   * for an assignment that no longer holds. So the wait is here, between
   * attempts, and each attempt first looks at what the managers want now
   * (a node that comes back gets its current assignments before its lease).
   * False: not started, because the task is no longer wanted.
   */
  private async startUnderLease(rt: Runtime): Promise<boolean> {
    const deadline = this.deps.timers.now() + (this.deps.leaseWaitMs ?? DEFAULT_LEASE_WAIT_MS);
    for (;;) {
      if (this.wantsStop() || !this.deps.alive()) return false;
      try {
        await rt.start(this.task.ID);
        return true;
      } catch (err) {
        if (!(err instanceof RuntimeError && err.code === 'NO_LEASE') || this.deps.timers.now() >= deadline) throw err;
      }
      await sleepOn(this.deps.timers, LEASE_RETRY_MS);
    }
  }

  private awaitPorts(pid: number, ports: number[]): void {
    const waitMs = this.deps.listenWaitMs ?? DEFAULT_LISTEN_WAIT_MS;
    const gone = () => this.state !== 'starting' || this.stopping || this.wantsStop() || !this.deps.alive();
    void awaitListening(pid, ports, this.deps.timers, waitMs, gone).then((listening) => {
      this.run(async () => {
        if (gone()) return;
        const which = ports.join(', ');
        if (!listening) this.log.warn(`task ${this.task.ID}: not listening on published port(s) ${which} after ${waitMs} ms; reported running anyway`);
        await this.move('running', listening ? `started (listening on ${which})` : `started (not listening on ${which} after ${Math.round(waitMs / 1000)} s)`);
      });
    });
  }

  /** The task's health check: its service's over its image's; null when it has none. */
  private async healthPolicy(): Promise<HealthPolicy | null> {
    const own = this.task.Spec.ContainerSpec?.HealthCheck;
    const image = await this.deps.runtime.imageHealthCheck?.(toRunSpec(this.task)).catch(() => undefined);
    return healthPolicy(mergeHealth(image, own));
  }

  /** Starts the task's health checks (the task is `starting`). */
  private watchHealth(policy: HealthPolicy): void {
    if (this.health) return;
    const rt = this.deps.runtime;
    this.health = new HealthMonitor(policy, (cmd, timeoutMs) => rt.exec(this.task.ID, cmd, timeoutMs), this.deps.timers, (r) => {
      this.healthNow = r;
      this.run(() => this.healthChanged(r));
    });
    this.healthNow = this.health.report();
    this.health.start();
  }

  private async healthChanged(r: HealthReport): Promise<void> {
    if (isTerminal(this.state) || this.stopping) return;
    if (r.status === 'healthy' && this.state === 'starting') return this.move('running', 'started (healthy)');
    if (r.status !== 'unhealthy') return;
    // Stopped before it is reported failed: its replacement never runs beside it.
    this.stopping = true;
    try {
      await this.deps.runtime.stop(this.task.ID, stopGraceMs(this.task));
    } catch (err) {
      if (!(err instanceof RuntimeError && err.code === 'NOT_FOUND')) this.log.warn(`task ${this.task.ID}: stopping the unhealthy task: ${errText(err)}`);
    }
    await this.move('failed', 'unhealthy container', `task: unhealthy container (${r.failingStreak} failed health checks in a row${r.lastOutput ? `; last: ${r.lastOutput}` : ''})`);
  }

  private stopHealth(): void {
    this.health?.stop();
    this.health = null;
  }

  private watchExit(): void {
    if (this.watching) return;
    this.watching = true;
    this.deps.runtime.wait(this.task.ID).then(
      (exit) => {
        this.run(() => this.exited(exit));
      },
      (err: Error) => {
        this.run(async () => (isTerminal(this.state) ? undefined : this.move('failed', TASK_END_MESSAGE.lost, errText(err))));
      },
    );
  }

  private async exited(exit: ExitStatus): Promise<void> {
    if (isTerminal(this.state)) return;
    const code = exit.exitCode;
    if (this.stopping || this.wantsStop()) return this.move('shutdown', 'shutdown', undefined, code);
    if (exit.oomKilled) return this.move('failed', TASK_END_MESSAGE.oom, `task: killed by the OOM killer (exit ${code})`, code);
    if (code === 0) return this.move('complete', 'finished', undefined, code);
    // The runtime's own account wins where it decided the outcome (fenced, its supervisor died).
    if (exit.message) return this.move('failed', exit.message.startsWith('fenced') ? TASK_END_MESSAGE.fenced : 'task: non-zero exit', `${exit.message} (exit ${code})`, code);
    return this.move('failed', 'task: non-zero exit', `task: non-zero exit (${code})${exit.signal ? ` (${exit.signal})` : ''}`, code);
  }

  private async shutdown(): Promise<void> {
    this.stopHealth();
    if (isTerminal(this.state)) return;
    if (this.created && (this.state === 'running' || this.state === 'starting')) {
      this.stopping = true;
      try {
        await this.deps.runtime.stop(this.task.ID, stopGraceMs(this.task));
      } catch (err) {
        if (!(err instanceof RuntimeError && err.code === 'NOT_FOUND')) throw err;
      }
    }
    await this.move('shutdown', 'shutdown');
  }

  private async move(state: TaskState, message: string, err?: string, exitCode?: number): Promise<void> {
    if (!this.deps.alive()) return;
    if (stateRank(state) < stateRank(this.state) && !isTerminal(state)) return;
    this.state = state;
    if (isTerminal(state)) this.stopHealth();
    // Durable only where a restarted agent needs it: the intent before the
    // runtime creates the task (accepted), the fact that it did (ready), and
    // the end. In between, the runtime itself says what runs.
    if (state === 'accepted' || state === 'ready' || isTerminal(state)) {
      try {
        await this.deps.db.put({ id: this.task.ID, task: this.task, runtime: this.deps.runtime.name, state, created: this.created, updatedMs: this.deps.wall() });
      } catch (e) {
        this.unsaved = { state, message, err, exitCode };
        throw e;
      }
    }
    const cs = {
      ...(this.containerId ? { ContainerID: this.containerId } : {}),
      ...(this.pid !== undefined ? { PID: this.pid } : {}),
      ...(exitCode !== undefined ? { ExitCode: exitCode } : {}),
      ...(this.healthNow ? { Health: { Status: this.healthNow.status, FailingStreak: this.healthNow.failingStreak, ...(this.healthNow.lastOutput ? { Output: this.healthNow.lastOutput } : {}) } } : {}),
    };
    // Every state a task passes through, at debug: `--log-level debug` and `shoal node logs --component agent` show a task's life on its node.
    this.log.debug({ state, ...(exitCode !== undefined ? { exitCode } : {}), ...(err ? { error: err } : {}) }, `task ${state}${message && message !== state ? `: ${message}` : ''}`);
    const status: TaskStatus = {
      Timestamp: new Date(this.deps.wall()).toISOString(),
      State: state,
      Message: message,
      ...(err ? { Err: err } : {}),
      ...(Object.keys(cs).length > 0 ? { ContainerStatus: cs } : {}),
    };
    this.lastReport = status;
    this.deps.report(this.task.ID, status);
  }

  /** The managers stopped tracking the task: stop it if it still runs, then clean up. */
  async forget(): Promise<void> {
    // No retry after this: a pending one would write back (and report) a state of a task whose
    // db row is about to go, and the managers no longer know it.
    this.forgotten = true;
    this.deps.timers.clear(this.retryTimer);
    this.retryTimer = null;
    this.unsaved = null;
    await this.chain;
    if (!isTerminal(this.state)) {
      this.task = { ...this.task, DesiredState: 'shutdown' };
      await this.shutdown();
    }
    if (this.created) await this.deps.runtime.remove(this.task.ID).catch((e: Error) => this.log.warn(`removing ${this.task.ID}: ${e.message}`));
    if (usesSecrets(this.task)) await this.deps.secrets?.release(this.task.ID);
    await this.deps.db.remove(this.task.ID);
  }
}

function errText(err: unknown): string {
  return String((err as Error)?.message ?? err).slice(0, 1000);
}
