/** Typed errors of the dispatcher. */
import { policy, ShoalError, type LeaderHint } from '../../util/errors.js';

export type DispatcherErrorCode = 'NOT_LEADER' | 'SESSION_INVALID' | 'UNKNOWN_NODE' | 'PERMISSION_DENIED';
/** NOT_LEADER carries the leader as data (the agent goes there at once); a lost session is reopened. */
const dispatcherPolicy = policy<DispatcherErrorCode>(['NOT_LEADER', 'SESSION_INVALID'], { NOT_LEADER: 503, SESSION_INVALID: 503, UNKNOWN_NODE: 404, PERMISSION_DENIED: 403 });

export class DispatcherError extends ShoalError<DispatcherErrorCode> {
  override readonly name = 'DispatcherError';
  readonly ns = 'dispatcher';
  constructor(code: DispatcherErrorCode, message: string, leader: LeaderHint | null = null) {
    super(code, message, dispatcherPolicy(code, { leader }));
  }
}
