/**
 * A CLI failure the user can fix. The top level prints its message as one
 * line on stderr and exits with `exitCode` (1 unless a command defines a
 * verdict code, e.g. `npm run check` exits 1 for "not linearizable").
 */
import { ShoalError } from '../util/errors.js';
export class CliError extends ShoalError<'USAGE'> {
  override readonly name = 'CliError';
  readonly ns = 'cli';
  constructor(
    message: string,
    readonly exitCode = 1,
    /** When the error is an API answer: its HTTP status and, from Shoal's API, its qualified code (`api.OUT_OF_SEQUENCE`). */
    api?: { status: number; code?: string | undefined },
  ) {
    super('USAGE', message, { status: api?.status ?? 400, retryable: api?.status === 503 });
    this.apiCode = api?.code;
  }

  readonly apiCode: string | undefined;
}
