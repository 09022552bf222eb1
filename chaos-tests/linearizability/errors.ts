/**
 * Typed errors of the checker. Both carry enough context for `npm run check`
 * to print one line that tells the user what to fix.
 */

/** A history file that does not follow its format; `line` is 1-based. */
export class HistoryParseError extends Error {
  override readonly name = 'HistoryParseError';
  constructor(
    readonly reason: string,
    readonly line: number,
    readonly file?: string,
  ) {
    super(`${file ?? '<history>'}:${line}: ${reason}`);
  }
}

/** An operation list that breaks the contract (e.g. a return before its call). */
export class HistoryError extends Error {
  override readonly name = 'HistoryError';
  constructor(
    message: string,
    /** Index of the offending operation in the list given to the checker. */
    readonly index: number,
  ) {
    super(`operation ${index}: ${message}`);
  }
}
