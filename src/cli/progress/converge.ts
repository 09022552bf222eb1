/**
 * Waiting for a service to converge after create, scale or update (without
 * -d): poll its tasks and status, show progress, and end with docker's
 * "verify: Service converged" or a CliError saying which tasks are not
 * running and why (the scheduler's reason in Task.Status.Message, e.g.
 * "no suitable node (insufficient memory on 2 nodes)").
 */
import type { Service, Task } from '../../model/index.js';
import type { ServiceStatus } from '../../manager/api/shapes.js';
import type { ApiClient } from '../client.js';
import { encodeFilters } from '../client.js';
import { CliError } from '../errors.js';
import { taskReason } from '../format/tasks.js';
import { formatDuration } from '../units.js';
import { PlainProgress, TtyProgress, type ProgressView, type Snapshot } from './render.js';

export interface ConvergeOptions {
  serviceId: string;
  /** Only count tasks made from the current spec (an update replaces tasks; create and scale do not). */
  upToDateOnly: boolean;
  /** Waiting for a requested rollback: its completion is success, not failure. */
  rollback?: boolean;
  timeoutMs: number;
  out: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  quiet?: boolean;
  intervalMs?: number;
}

type ListedService = Service & { ServiceStatus?: ServiceStatus };

/** One poll: the service (with its task counts) and its tasks that should be running. */
async function poll(client: ApiClient, o: ConvergeOptions): Promise<Snapshot> {
  const [services, tasks] = await Promise.all([
    client.get<ListedService[]>('/services', { status: true, filters: encodeFilters({ id: [o.serviceId] }) }),
    client.get<Task[]>('/tasks', {
      filters: encodeFilters({ service: [o.serviceId], 'desired-state': ['running'], ...(o.upToDateOnly ? { '_up-to-date': ['true'] } : {}) }),
    }),
  ]);
  const svc = services.find((s) => s.ID === o.serviceId);
  if (!svc) throw new CliError(`service ${o.serviceId} was removed while waiting for it to converge`);
  const desired = svc.ServiceStatus?.DesiredTasks ?? svc.Spec.Mode.Replicated?.Replicas ?? tasks.length;
  return { name: svc.Spec.Name, desired, tasks, updateState: svc.UpdateStatus?.State, updateMessage: svc.UpdateStatus?.Message };
}

export function isConverged(s: Snapshot, upToDateOnly: boolean): boolean {
  const running = s.tasks.filter((t) => t.Status.State === 'running').length;
  if (running !== s.desired || s.tasks.length !== s.desired) return false;
  return !upToDateOnly || (s.updateState !== 'updating' && s.updateState !== 'rollback_started');
}

/** "web.1 and web.2 pending: no suitable node (…); web.3 assigned", grouped by reason. */
export function pendingReasons(s: Snapshot): string {
  const groups = new Map<string, string[]>();
  for (const t of s.tasks) {
    if (t.Status.State === 'running') continue;
    const why = taskReason(t) || t.Status.Message;
    const key = `${t.Status.State}${why ? `: ${why}` : ''}`;
    groups.set(key, [...(groups.get(key) ?? []), t.Name ?? t.ID]);
  }
  const who = (names: string[]) => (names.length > 3 ? `${names.length} tasks` : names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0]);
  const parts = [...groups].map(([why, names]) => `${who(names)} ${why}`);
  const missing = s.desired - s.tasks.length;
  if (missing > 0) parts.push(`${missing} task${missing > 1 ? 's' : ''} not created yet`);
  return parts.join('; ') || 'tasks are still being replaced';
}

export async function waitForConvergence(client: ApiClient, o: ConvergeOptions): Promise<void> {
  const view: ProgressView = o.quiet ? { update() {}, done() {} } : o.out.isTTY ? new TtyProgress(o.out) : new PlainProgress(o.out);
  const deadline = Date.now() + o.timeoutMs;
  let last: Snapshot | undefined;
  for (;;) {
    const s = await poll(client, o);
    last = s;
    view.update(s);
    const failed = s.updateState === 'paused' || s.updateState === 'rollback_paused' || (s.updateState === 'rollback_completed' && !o.rollback);
    if (o.upToDateOnly && failed) {
      view.done();
      const what = s.updateState === 'rollback_completed' ? 'rolled back' : s.updateState === 'paused' ? 'update paused' : 'rollback paused';
      throw new CliError(`service ${s.name} ${what}: ${s.updateMessage ?? 'see shoal service ps'}`);
    }
    if (isConverged(s, o.upToDateOnly)) {
      view.done();
      if (!o.quiet) o.out.write('verify: Service converged\n');
      return;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(o.intervalMs ?? 250, Math.max(0, deadline - Date.now()))));
  }
  view.done();
  throw new CliError(`service ${last.name} did not converge within ${formatDuration(o.timeoutMs * 1e6)}: ${pendingReasons(last)}`);
}
