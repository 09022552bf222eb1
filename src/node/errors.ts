/** Typed errors of the node daemon: what stops a node from starting, said so the user can fix it. */
import { ShoalError } from '../util/errors.js';

export class DaemonError extends ShoalError<'FAILED'> {
  override readonly name = 'DaemonError';
  readonly ns = 'node';
  constructor(message: string) {
    super('FAILED', message, { status: 500 });
  }
}
