/**
 * The one error model. Every typed error of Shoal extends ShoalError:
 *
 * - `code` is the module's own code ('NOT_LEADER'), `ns` the module that
 *   raised it ('raft'), and `qualifiedCode` both ('raft.NOT_LEADER'), so two
 *   modules may use the same word without being confused;
 * - `retryable` says whether the same request, unchanged, may succeed later
 *   (no leader yet, a peer restarting) — callers and the retry helper branch
 *   on it instead of keeping their own lists;
 * - `status` is the HTTP status the API answers when the error reaches it;
 * - `leader` is where the request should go instead, as data: it travels
 *   across the wire in the error frame, so nobody parses it out of a message.
 *
 * `toErrorData` and `fromErrorData` are the error's wire form; a reconstructed
 * error is a RemoteError with the same fields.
 */

/** The leader as the refusing node knows it. `addr` is its cluster address, when known. */
export interface LeaderHint {
  nodeId: string;
  addr: string | null;
}

export interface ShoalErrorInit {
  retryable?: boolean;
  status?: number;
  leader?: LeaderHint | null;
  cause?: unknown;
}

/** An error's wire form (wire/codec.ts validates it). */
export interface ErrorData {
  /** Qualified: `ns.CODE`. */
  code: string;
  message: string;
  retryable?: boolean;
  status?: number;
  leader?: LeaderHint;
}

export abstract class ShoalError<C extends string = string> extends Error {
  /** The module that raised it. */
  abstract readonly ns: string;
  readonly retryable: boolean;
  readonly status: number;
  readonly leader: LeaderHint | null;

  constructor(
    readonly code: C,
    message: string,
    init: ShoalErrorInit = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.retryable = init.retryable ?? false;
    this.status = init.status ?? 500;
    this.leader = init.leader ?? null;
  }

  get qualifiedCode(): string {
    return `${this.ns}.${this.code}`;
  }
}

/** An error raised on another node, rebuilt from its wire form. */
export class RemoteError extends ShoalError {
  override readonly name = 'RemoteError';
  readonly ns: string;

  constructor(data: ErrorData) {
    const dot = data.code.indexOf('.');
    super(dot < 0 ? data.code : data.code.slice(dot + 1), data.message, { retryable: data.retryable, status: data.status, leader: data.leader ?? null });
    this.ns = dot < 0 ? 'remote' : data.code.slice(0, dot);
  }
}

/** Builds a table-driven constructor init: which codes are retryable, and their HTTP statuses. */
export function policy<C extends string>(retryable: readonly C[], status: Partial<Record<C, number>>, fallbackStatus = 500) {
  const r = new Set<string>(retryable);
  return (code: C, extra: ShoalErrorInit = {}): ShoalErrorInit => ({ retryable: r.has(code), status: status[code] ?? fallbackStatus, ...extra });
}

/** Whether doing the same again may succeed. Untyped errors are not retried: they are bugs. */
export function isRetryable(err: unknown): boolean {
  return err instanceof ShoalError && err.retryable;
}

/** The leader an error points to, if it carries one. */
export function leaderHintOf(err: unknown): LeaderHint | null {
  return err instanceof ShoalError ? err.leader : null;
}

const MAX_CODE = 64;
const MAX_MESSAGE = 4096;

/** The wire form of anything thrown. Untyped errors become `internal.ERROR`. */
export function toErrorData(err: unknown): ErrorData {
  if (err instanceof ShoalError) {
    const d: ErrorData = { code: err.qualifiedCode.slice(0, MAX_CODE), message: err.message.slice(0, MAX_MESSAGE), retryable: err.retryable, status: err.status };
    if (err.leader) d.leader = { nodeId: err.leader.nodeId, addr: err.leader.addr };
    return d;
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal.ERROR', message: message.slice(0, MAX_MESSAGE), retryable: false, status: 500 };
}

export function fromErrorData(data: ErrorData): RemoteError {
  return new RemoteError(data);
}
