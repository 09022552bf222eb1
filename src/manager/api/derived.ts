/**
 * Values the API computes from the store rather than stores: a service's
 * task counts (`?status=true`) and whether a task still matches its
 * service's current template (the CLI's `_up-to-date` task filter, which its
 * progress display polls).
 */
import type { Store } from '../store/store.js';
import { inCurrentRun, jobCounts } from '../../model/index.js';
import { isLiveDesired } from '../orchestrator/model.js';
import type { Service, Task } from '../../model/index.js';
import { canonical, type ServiceStatus } from './shapes.js';

/** As SwarmKit's ListServiceStatuses: desired from the spec (or, global, from its tasks), running = tasks in state running, completed = a job's current run's completions. */
export function serviceStatus(store: Store, s: Service): ServiceStatus {
  const m = s.Spec.Mode;
  let desired = 0;
  let running = 0;
  let completed = 0;
  for (const t of store.tasksOfService(s.ID)) {
    if (t.Status.State === 'running') running++;
    // A job counts the completions of its current run only.
    const current = inCurrentRun(t, s);
    if (t.Status.State === 'complete' && current) completed++;
    if (m.Global && t.DesiredState === 'running') desired++;
    // A global job's run: one task per node it was started on, running or done.
    if (m.GlobalJob && current && (isLiveDesired(t.DesiredState) || t.DesiredState === 'complete')) desired++;
  }
  if (m.Replicated) desired = m.Replicated.Replicas ?? 1;
  if (m.ReplicatedJob) {
    const { maxConcurrent, total } = jobCounts(m.ReplicatedJob);
    desired = Math.max(0, Math.min(maxConcurrent, total - completed));
  }
  return { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed };
}

/**
 * A task is up to date when its spec is the service's current template
 * (SwarmKit compares the same way: `!IsTaskDirty`). Comparing content rather
 * than versions keeps this independent of how the orchestrator numbers
 * spec versions, and scaling does not make existing tasks stale.
 */
export function isUpToDate(t: Task, s: Service | undefined, cache: Map<string, string>): boolean {
  if (!s) return false;
  let want = cache.get(s.ID);
  if (want === undefined) cache.set(s.ID, (want = canonical(s.Spec.TaskTemplate)));
  return canonical(t.Spec) === want;
}
