/** Typed errors of the task supervisor (carried to the agent as REMOTE_ERROR messages that start with the code). */
export const SupervisorErrorCode = {
  /** No task directory, launch.json or a directory outside the supervisor's roots. */
  BAD_TASK: 'BAD_TASK',
  /** The task has already run (its exit.json exists): a task starts once. */
  ALREADY_RAN: 'ALREADY_RAN',
  /** The fencing lease is configured but not valid: no manager renewed it. */
  NO_LEASE: 'NO_LEASE',
  /** The task could not be started (exec failure, the oci runtime failed). */
  START_FAILED: 'START_FAILED',
  /** The supervisor is shutting down. */
  SHUTTING_DOWN: 'SHUTTING_DOWN',
  /** The agent could not reach or start a supervisor. */
  UNAVAILABLE: 'UNAVAILABLE',
} as const;

export type SupervisorErrorCode = (typeof SupervisorErrorCode)[keyof typeof SupervisorErrorCode];

export class SupervisorError extends Error {
  override readonly name = 'SupervisorError';
  constructor(
    readonly code: SupervisorErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}
