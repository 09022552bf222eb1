/** The manager's typed errors: NOT_LEADER and UNAVAILABLE are retryable (503), the rest say what to fix. */
import { policy, ShoalError, type LeaderHint } from '../util/errors.js';

export type ManagerErrorCode = 'NOT_LEADER' | 'INVALID_TOKEN' | 'FAILED_PRECONDITION' | 'NOT_FOUND' | 'UNAVAILABLE' | 'NODE_EXISTS' | 'PERMISSION_DENIED';
const managerPolicy = policy<ManagerErrorCode>(['NOT_LEADER', 'UNAVAILABLE'], { NOT_LEADER: 503, UNAVAILABLE: 503, INVALID_TOKEN: 400, FAILED_PRECONDITION: 409, NOT_FOUND: 404, NODE_EXISTS: 409, PERMISSION_DENIED: 403 });

export class ManagerError extends ShoalError<ManagerErrorCode> {
  override readonly name = 'ManagerError';
  readonly ns = 'manager';
  constructor(code: ManagerErrorCode, message: string, leader: LeaderHint | null = null) {
    super(code, message, managerPolicy(code, { leader }));
  }
}

