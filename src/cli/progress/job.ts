/**
 * Waiting for a job (replicated-job, global-job) after create or update
 * (without -d): docker's job progress, as counts. A job is done when its
 * current run has all its completions (ServiceStatus.CompletedTasks against
 * TotalCompletions, or a global job's one per node); a task of the run that
 * failed for good (its restart policy said no more) ends the wait with its
 * reason.
 */
import type { Service, Task } from '../../model/index.js';
import type { ServiceStatus } from '../../manager/api/shapes.js';
import type { ApiClient } from '../client.js';
import { encodeFilters } from '../client.js';
import { CliError } from '../errors.js';
import { taskReason } from '../format/tasks.js';
import { formatDuration } from '../units.js';

type ListedService = Service & { ServiceStatus?: ServiceStatus };

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
      client.get<ListedService[]>('/services', { status: true, filters: encodeFilters({ id: [o.serviceId] }) }),
      client.get<Task[]>('/tasks', { filters: encodeFilters({ service: [o.serviceId] }) }),
    ]);
    const svc = services.find((s) => s.ID === o.serviceId);
    if (!svc) throw new CliError(`job ${o.serviceId} was removed while waiting for it to complete`);
    const iteration = svc.JobStatus?.JobIteration.Index ?? 0;
    const run = tasks.filter((t) => t.JobIteration?.Index === iteration);
    const completed = svc.ServiceStatus?.CompletedTasks ?? run.filter((t) => t.Status.State === 'complete').length;
    const total = svc.Spec.Mode.ReplicatedJob ? (svc.Spec.Mode.ReplicatedJob.TotalCompletions ?? 1) : run.length;
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
