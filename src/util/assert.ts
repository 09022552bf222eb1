/**
 * Invariant assertions, TigerBeetle style: state what must hold, and crash
 * loudly in tests and simulations when it does not. These guard programming
 * errors in our own state machines, never untrusted input (which is validated
 * and rejected with typed errors instead).
 */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

export function assert(cond: unknown, msg: string | (() => string) = 'assertion failed'): asserts cond {
  if (!cond) throw new AssertionError(typeof msg === 'function' ? msg() : msg);
}

export function unreachable(x: never, msg = 'unreachable'): never {
  throw new AssertionError(`${msg}: ${JSON.stringify(x)}`);
}
