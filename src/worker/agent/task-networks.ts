import type { DataPlane, NodePlan, PlanNetwork, PlanTask } from '../../overlay-net/interface.js';
import type { Task } from '../../model/index.js';
import type { TaskNetwork } from '../runtime/interface.js';
import { systemTimers, type Timers } from '../../util/timers.js';
import type { Logger } from '../../util/log/interface.js';

/** How long a task being prepared waits for the plan that gives it its namespace. */
export const ATTACH_TIMEOUT_MS = 15_000;

/**
 * The agent's side of overlay-net: hands every plan the leader sends to the
 * node's data plane, one apply at a time with only the newest plan queued
 * (a burst of changes costs one apply, not one per change), and tells a
 * task being prepared where its network namespace is once an applied plan
 * holds it. The kernel state belongs to the data plane; this class only
 * orders the work and answers "is my namespace there yet".
 */
export class TaskNetworks {
  private applied: NodePlan | null = null;
  private next: NodePlan | null = null;
  private running = false;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly dataPlane: DataPlane,
    private readonly log: Logger,
    private readonly timers: Timers = systemTimers,
  ) {}

  /** Told once the kernel matches the plan they came with, or a newer one (which covers it). */
  private appliedCallbacks: (() => void)[] = [];

  /** The newest plan from the leader (replaces any plan not applied yet); `applied` runs once the kernel matches it. */
  onPlan(plan: NodePlan, applied?: () => void): void {
    if (this.closed) return;
    this.next = plan;
    if (applied) this.appliedCallbacks.push(applied);
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.next && !this.closed) {
        const plan = this.next;
        const callbacks = this.appliedCallbacks;
        this.next = null;
        this.appliedCallbacks = [];
        const t0 = this.timers.now();
        try {
          await this.dataPlane.apply(plan);
          this.applied = plan;
          this.log.info(`network plan applied in ${Math.round(this.timers.now() - t0)} ms: ${plan.networks.length} network(s), ${plan.tasks.length} task(s), ${plan.services.length} service(s)`);
          for (const cb of callbacks) cb();
        } catch (err) {
          // The next plan (or the retry below) converges again: apply is idempotent.
          this.log.warn(`network plan not applied: ${(err as Error).message}`);
          // Not applied: its callbacks wait for the retry or a newer plan.
          this.appliedCallbacks = [...callbacks, ...this.appliedCallbacks];
          if (!this.next) {
            this.next = plan;
            await new Promise<void>((r) => this.timers.setTimeout(r, 500));
          }
        }
        for (const w of [...this.waiters]) w();
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * The TCP ports the task's service publishes, as the target ports inside
   * the task (from the newest plan: the node serves the task's networks, so
   * the plan lists its service). What the task must listen on before it is
   * reported running (task-controller.ts).
   */
  publishedTcpPorts(task: Task): number[] {
    const svc = (this.next ?? this.applied)?.services.find((s) => s.id === task.ServiceID);
    return [...new Set((svc?.ports ?? []).filter((p) => p.protocol === 'tcp').map((p) => p.targetPort))].sort((a, b) => a - b);
  }

  /**
   * The task's network once an applied plan holds its namespace. Rejects
   * after `timeoutMs`: the task is then rejected and replaced, never started
   * without the network it asked for.
   */
  attach(task: Task, timeoutMs = ATTACH_TIMEOUT_MS): Promise<TaskNetwork> {
    return new Promise<TaskNetwork>((resolve, reject) => {
      const check = (): boolean => {
        const got = this.applied ? networkOf(this.applied, task.ID) : null;
        if (got) {
          done();
          resolve({ ...got, bound: () => this.reapply() });
          return true;
        }
        return false;
      };
      const timer = this.timers.setTimeout(() => {
        done();
        reject(new Error(`the node's network plan did not give task ${task.ID} its namespace within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = (): void => {
        this.timers.clear(timer);
        this.waiters.delete(check);
      };
      if (!check()) this.waiters.add(check);
    });
  }

  /**
   * Applies the newest plan again, for a namespace a runtime has just made
   * (docker's sandbox): the data plane programs a runtime's namespace only
   * once it exists. Resolves when an apply that began after this call is done.
   */
  reapply(timeoutMs = ATTACH_TIMEOUT_MS): Promise<void> {
    const plan = this.next ?? this.applied;
    if (!plan || this.closed) return Promise.reject(new Error('no network plan to apply yet'));
    return new Promise<void>((resolve, reject) => {
      const timer = this.timers.setTimeout(() => reject(new Error(`the node's network plan was not applied again within ${timeoutMs} ms`)), timeoutMs);
      this.onPlan(plan, () => {
        this.timers.clear(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.closed = true;
  }
}

/** What the runtime needs for a task of an applied plan: its namespace path and its name resolution. */
export function networkOf(plan: NodePlan, taskId: string): TaskNetwork | null {
  const t = plan.tasks.find((x) => x.taskId === taskId);
  if (!t || t.attachments.length === 0) return null;
  const nets = new Map(plan.networks.map((n) => [n.id, n]));
  const first = nets.get(t.attachments[0]!.networkId);
  if (!first) return null;
  return { netnsPath: `/run/netns/${t.netns}`, resolvConf: resolvConf(first), hosts: hostsFile(t, nets) };
}

/**
 * The embedded resolver listens on each network's anycast gateway, which is
 * this node: names resolve where the task runs, as Docker's 127.0.0.11 does.
 * ndots:0 so a bare service name is tried as is before any search domain.
 */
function resolvConf(n: PlanNetwork): string {
  return `nameserver ${n.gateway}\noptions ndots:0\n`;
}

function hostsFile(t: PlanTask, nets: Map<string, PlanNetwork>): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
  for (const a of t.attachments) if (nets.has(a.networkId)) lines.push(`${a.addr}\t${t.taskId.slice(0, 12)}`);
  return lines.join('\n') + '\n';
}
