/**
 * Jobs (ReplicatedJob, GlobalJob): what the API, the orchestrator and the
 * CLI all need to agree on — which services are jobs, and which of a job's
 * tasks belong to its current run (Service.JobStatus.JobIteration, moved by
 * every new spec).
 */
import type { ReplicatedJobMode, Service, ServiceMode, Task } from './objects.js';

export function isJobMode(m: ServiceMode | undefined): boolean {
  return m?.ReplicatedJob !== undefined || m?.GlobalJob !== undefined;
}

/** A replicated job's counts with Docker's defaults: MaxConcurrent 1, TotalCompletions = MaxConcurrent. */
export function jobCounts(j: ReplicatedJobMode): { maxConcurrent: number; total: number } {
  const maxConcurrent = j.MaxConcurrent ?? 1;
  return { maxConcurrent, total: j.TotalCompletions ?? maxConcurrent };
}

/** The iteration a job's new tasks belong to (0 for its first run). */
export function jobIteration(s: Pick<Service, 'JobStatus'>): number {
  return s.JobStatus?.JobIteration.Index ?? 0;
}

/** The task belongs to its service's current run; every task of a service that is not a job does. */
export function inCurrentRun(t: Pick<Task, 'JobIteration'>, s: Pick<Service, 'Spec' | 'JobStatus'>): boolean {
  return !isJobMode(s.Spec.Mode) || t.JobIteration?.Index === jobIteration(s);
}
