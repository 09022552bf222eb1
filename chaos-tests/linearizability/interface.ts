/**
 * Contract of the linearizability checker, shared by the Raft simulation,
 * the chaos harness and `npm run check`.
 *
 * A history is a list of operations with call and return times on one
 * logical clock. An operation whose outcome is unknown (timed out, crashed
 * client, Jepsen `:info`) has `ret = Infinity`: it may have taken effect at any
 * moment after its call, or never, and its output matches anything.
 */

export interface Operation<I, O> {
  /** Client/process that issued it; one client has at most one open operation. */
  client: number;
  /** Logical time the call was made. Times are totally ordered across clients. */
  call: number;
  /** Logical time the response arrived; Infinity when the outcome is unknown. */
  ret: number;
  input: I;
  /** Undefined when ret is Infinity. */
  output: O | undefined;
}

/**
 * A sequential specification. States must be immutable values: `step` returns
 * a new state. `hash` must be equal for equal states (used for memoisation).
 */
export interface Model<S, I, O> {
  name: string;
  init(): S;
  /** Apply `input` to `state`; `ok` is false when `output` is impossible from `state`. */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  hash(state: S): string;
  /**
   * Optional exact equality. Without it, `hash` is taken as canonical: two
   * states with the same hash string are treated as the same state, so the
   * memo can prune on it. Give `equal` when `hash` may collide.
   */
  equal?(a: S, b: S): boolean;
  /** Optional: renders a state for the failing window (default: `hash`). */
  describeState?(state: S): string;
  /**
   * P-compositionality: split a history into independent sub-histories
   * (KV: one per key). Absent = check the history as a whole.
   */
  partition?(ops: Operation<I, O>[]): Operation<I, O>[][];
  describe(input: I, output: O | undefined): string;
  /** Optional: names a partition in the failing window (KV: `key "4"`). */
  describePartition?(ops: Operation<I, O>[]): string;
}

export interface CheckOptions {
  /** Give up after this long; the verdict is then `unknown`. Default 60 s. */
  timeoutMs?: number;
  /**
   * Give up (verdict `unknown`) once the search has memoised this many
   * configurations in total: a memory bound. Default 10 million (~1.5 GB).
   */
  maxConfigurations?: number;
}

export interface CheckResult {
  verdict: 'linearizable' | 'not linearizable' | 'unknown';
  /**
   * When not linearizable: a short human-readable window of the failing
   * (sub)history, the operations around the point where no linearization
   * could be extended.
   */
  window?: string;
  /** When `unknown`: why the search gave up (timeout or configuration budget). */
  reason?: string;
  /** Wall-clock milliseconds spent. */
  elapsedMs: number;
}

// KV model (get / put / append; a missing key reads as "").
export type KvInput =
  | { op: 'get'; key: string }
  | { op: 'put'; key: string; value: string }
  | { op: 'append'; key: string; value: string };
/** For get: the value read. For put/append: nothing meaningful (undefined or ''). */
export type KvOutput = { value?: string };
export type KvOperation = Operation<KvInput, KvOutput>;

// Compare-and-set register (starts as null).
export type CasInput =
  | { op: 'read' }
  | { op: 'write'; value: number }
  | { op: 'cas'; from: number; to: number };
/** read: value read (null = nil). cas: ok=true swapped, ok=false comparison failed. */
export type CasOutput = { value?: number | null; ok?: boolean };
export type CasOperation = Operation<CasInput, CasOutput>;
