/**
 * Typed errors of the scheduler. Only caller bugs throw (bad options, a batch
 * naming a task twice, a node without an ID). A task spec the scheduler cannot
 * understand never throws out of schedule(): the task comes back unplaced with
 * code INVALID_SPEC and the parser's message, because one bad service must not
 * stop every other service from being placed.
 */

export const SchedulerErrorCode = {
  /** An option is out of range or of the wrong kind. */
  INVALID_OPTIONS: 'INVALID_OPTIONS',
  /** A placement constraint that does not parse, or names a key we do not know. */
  INVALID_CONSTRAINT: 'INVALID_CONSTRAINT',
  /** A spread preference whose descriptor is not a key we can read from a node. */
  INVALID_PREFERENCE: 'INVALID_PREFERENCE',
  /** The same task ID appears twice in one schedule() batch. */
  DUPLICATE_TASK: 'DUPLICATE_TASK',
  /** A caller bug: e.g. a node or task without an ID. */
  BAD_REQUEST: 'BAD_REQUEST',
} as const;

export type SchedulerErrorCode = (typeof SchedulerErrorCode)[keyof typeof SchedulerErrorCode];

export class SchedulerError extends Error {
  override readonly name = 'SchedulerError';
  constructor(
    readonly code: SchedulerErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export function isSchedulerError(e: unknown, code?: SchedulerErrorCode): e is SchedulerError {
  return e instanceof SchedulerError && (code === undefined || e.code === code);
}
