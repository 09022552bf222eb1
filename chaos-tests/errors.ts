/** Typed errors of the chaos harness: a usage mistake, or a cluster that could not be set up. */
export class ChaosError extends Error {
  override readonly name = 'ChaosError';
  constructor(
    readonly code: 'USAGE' | 'SETUP' | 'NOT_ROOT' | 'NOT_SUPPORTED',
    message: string,
  ) {
    super(message);
  }
}
