/** Typed errors of the task supervisor (they reach the agent as data: a REMOTE_ERROR whose `remote` is the original). */
import { policy, ShoalError } from '../../util/errors.js';

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
  /** The supervisor's compiled entry point is missing (`npm run build` was not run): no retry helps. */
  NOT_INSTALLED: 'NOT_INSTALLED',
} as const;

export type SupervisorErrorCode = (typeof SupervisorErrorCode)[keyof typeof SupervisorErrorCode];

const supervisorPolicy = policy<SupervisorErrorCode>(['UNAVAILABLE', 'NO_LEASE'], { BAD_TASK: 400, ALREADY_RAN: 409, NO_LEASE: 503, SHUTTING_DOWN: 503, UNAVAILABLE: 503 });

export class SupervisorError extends ShoalError<SupervisorErrorCode> {
  override readonly name = 'SupervisorError';
  readonly ns = 'supervisor';
  constructor(
    code: SupervisorErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`, supervisorPolicy(code));
  }
}
