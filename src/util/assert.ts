/**
 * Invariant assertions, TigerBeetle style: state what must hold, and crash
 * loudly in tests and simulations when it does not. These guard programming
 * errors in our own state machines, never untrusted input (which is validated
 * and rejected with typed errors instead).
 */
import { ShoalError } from './errors.js';
export class AssertionError extends ShoalError<'VIOLATED'> {
  override readonly name = 'AssertionError';
  readonly ns = 'assert';
  constructor(message: string) {
    super('VIOLATED', message, { status: 500 });
  }
}

export function assert(cond: unknown, msg: string | (() => string) = 'assertion failed'): asserts cond {
  if (!cond) throw new AssertionError(typeof msg === 'function' ? msg() : msg);
}

export function unreachable(x: never, msg = 'unreachable'): never {
  throw new AssertionError(`${msg}: ${JSON.stringify(x)}`);
}
