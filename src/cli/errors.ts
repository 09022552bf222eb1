/**
 * A CLI failure the user can fix. The top level prints its message as one
 * line on stderr and exits with `exitCode` (1 unless a command defines a
 * verdict code, e.g. `shoal check` exits 1 for "not linearizable").
 */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
