/**
 * Typed errors of the scheduler. Only caller bugs throw (bad options, a batch
 * naming a task twice, a node without an ID). A task spec the scheduler cannot
 * understand never throws out of schedule(): the task comes back unplaced with
 * code INVALID_SPEC and the parser's message, because one bad service must not
 * stop every other service from being placed.
 */
import { policy, ShoalError } from '../util/errors.js';

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

const schedulerPolicy = policy<SchedulerErrorCode>([], { INVALID_CONSTRAINT: 400, INVALID_PREFERENCE: 400 });

export class SchedulerError extends ShoalError<SchedulerErrorCode> {
  override readonly name = 'SchedulerError';
  readonly ns = 'scheduler';
  constructor(
    code: SchedulerErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`, schedulerPolicy(code));
  }
}

export function isSchedulerError(e: unknown, code?: SchedulerErrorCode): e is SchedulerError {
  return e instanceof SchedulerError && (code === undefined || e.code === code);
}
