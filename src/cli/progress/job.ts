/**
 * Waiting for a job (replicated-job, global-job) after create or update
 * (without -d): docker's job progress, as counts. A job is done when its
 * current run has all its completions (TotalCompletions, or a global job's
 * one per node it runs on); a task of the run that
 * failed for good (its restart policy said no more) ends the wait with its
 * reason.
 */
import { inCurrentRun, jobCounts } from '../../model/index.js';
import type { Service, Task } from '../../model/index.js';
import type { ApiClient } from '../client.js';
import { encodeFilters } from '../client.js';
import { CliError } from '../errors.js';
import { taskReason } from '../format/tasks.js';
import { formatDuration } from '../units.js';

export interface JobWaitOptions {
  serviceId: string;
  timeoutMs: number;
  out: { write(s: string): unknown };
  quiet?: boolean;
  intervalMs?: number;
}

export async function waitForJob(client: ApiClient, o: JobWaitOptions): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  let shown = '';
  let why = 'tasks have not completed yet';
  let name = o.serviceId;
  for (;;) {
    const [services, tasks] = await Promise.all([
      client.get<Service[]>('/services', { filters: encodeFilters({ id: [o.serviceId] }) }),
      client.get<Task[]>('/tasks', { filters: encodeFilters({ service: [o.serviceId] }) }),
    ]);
    const svc = services.find((s) => s.ID === o.serviceId);
    if (!svc) throw new CliError(`job ${o.serviceId} was removed while waiting for it to complete`);
    const run = tasks.filter((t) => inCurrentRun(t, svc));
    const completed = run.filter((t) => t.Status.State === 'complete').length;
    // A global job's failed task and its replacement share a node: count nodes, not tasks.
    const total = svc.Spec.Mode.ReplicatedJob ? jobCounts(svc.Spec.Mode.ReplicatedJob).total : new Set(run.map((t) => t.NodeID)).size;
    const running = run.filter((t) => t.Status.State === 'running').length;
    const line = `${svc.Spec.Name}: ${completed}/${total} completed, ${running} running\n`;
    if (!o.quiet && line !== shown) o.out.write((shown = line));
    if (total > 0 && completed >= total) {
      if (!o.quiet) o.out.write('job complete\n');
      return;
    }
    // A slot whose task failed, with nothing live or completed after it: say why while waiting,
    // and stop waiting when its restart policy is none (nothing will ever run there again).
    const slotOf = (t: Task) => (svc.Spec.Mode.ReplicatedJob ? `s${t.Slot}` : `n${t.NodeID}`);
    const live = (t: Task) => t.DesiredState === 'running' || t.DesiredState === 'ready';
    const settled = new Set(run.filter((t) => live(t) || t.Status.State === 'complete').map(slotOf));
    const stuck = run.find((t) => (t.Status.State === 'failed' || t.Status.State === 'rejected') && !settled.has(slotOf(t)));
    if (stuck) {
      why = `${stuck.Name ?? stuck.ID} ${stuck.Status.State}: ${taskReason(stuck) || stuck.Status.Message}`;
      if (stuck.Spec.RestartPolicy?.Condition === 'none') throw new CliError(`job ${svc.Spec.Name} cannot complete: ${why} (restart condition none)`);
    }
    name = svc.Spec.Name;
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(o.intervalMs ?? 250, Math.max(0, deadline - Date.now()))));
  }
  throw new CliError(`job ${name} did not complete within ${formatDuration(o.timeoutMs * 1e6)}: ${why}`);
}
