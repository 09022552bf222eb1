import { Bitset } from './bitset.js';
import { EventList } from './history.js';
import type { Model, Operation } from './interface.js';
import { StateInterner } from './intern.js';
import { Memo } from './memo.js';

/** Where the deepest branch of a failed search got stuck, for the failing window. */
export interface Stuck<S> {
  /** The operation whose return was reached with no way to linearize it first. */
  op: number;
  /** Model state at that point. */
  state: S;
  /** The last few operations of that partial linearization, in order. */
  lastLinearized: number[];
  /** How many operations that partial linearization held. */
  depth: number;
}

export type SearchStatus = 'ok' | 'fail' | 'paused';

const TAIL_KEPT = 3;

/**
 * Wing–Gong search with Lowe's memo, over one (sub)history, resumable so that
 * `check` can interleave the partitions of a history (see check.ts).
 *
 * Walk the event list from the head. At a call, try to linearize that
 * operation now: step the model; if the output fits and the resulting
 * (linearized set, state) configuration is new, push it, lift the operation
 * out of the list and restart from the head. At a return, the operation it
 * belongs to had to be linearized before this point and was not: pop the
 * last choice and try the next call after it. Failing at depth 0 means no
 * order works.
 *
 * Unknown-outcome operations (ret = Infinity) have their return at the very
 * end, so they never force a backtrack; once every operation with a known
 * outcome is linearized the rest can be placed after it (or "never", which is
 * the same thing at the end of a history), so the search stops there.
 *
 * Known limit (shared with Porcupine): many concurrent unknown-outcome
 * operations that each change the state (e.g. 30 timed-out writes of distinct
 * values with nothing reading in between) make the configuration space grow
 * as 2^k; the budgets in check.ts turn that into an `unknown` verdict.
 */
export class LinearizationSearch<S, I, O> {
  private readonly list: EventList;
  private readonly bits: Bitset;
  private readonly interner: StateInterner<S>;
  private readonly memo: Memo;
  private readonly stackNode: Int32Array;
  private readonly stackStateId: Int32Array;
  private depth = 0;
  private state: S;
  private stateId: number;
  private node: number;
  private definiteLeft = 0;
  private status: SearchStatus = 'paused';
  /** Set when the search fails: the deepest point reached. */
  stuck: Stuck<S> | undefined;

  constructor(
    private readonly model: Model<S, I, O>,
    readonly ops: readonly Operation<I, O>[],
  ) {
    const n = ops.length;
    for (const op of ops) if (op.ret !== Infinity) this.definiteLeft++;
    this.list = new EventList(ops);
    this.bits = new Bitset(n);
    this.interner = new StateInterner<S>(model);
    this.memo = new Memo(this.bits.words.length);
    this.stackNode = new Int32Array(n);
    this.stackStateId = new Int32Array(n);
    this.state = model.init();
    this.stateId = this.interner.id(this.state);
    this.node = this.list.next[EventList.HEAD];
    if (this.definiteLeft === 0) this.status = 'ok';
  }

  /** Configurations recorded so far (a measure of work and of memory). */
  get explored(): number {
    return this.memo.size;
  }

  /** Runs at most `maxSteps` steps; 'paused' means call again. */
  run(maxSteps: number): SearchStatus {
    if (this.status !== 'paused') return this.status;
    // Hot loop: everything in locals, written back when pausing.
    const { model, ops, list, bits, interner, memo, stackNode, stackStateId } = this;
    const { next, opOf, matchOf } = list;
    let { depth, state, stateId, node, definiteLeft } = this;
    let status: SearchStatus = 'paused';
    for (let steps = 0; steps < maxSteps; steps++) {
      if (matchOf[node] >= 0) {
        // A call: try to linearize its operation here.
        const i = opOf[node];
        const op = ops[i];
        const r = model.step(state, op.input, op.ret === Infinity ? undefined : op.output);
        // An unknown-outcome operation that would leave the state as it is
        // only uses up an option: every completion from there also works
        // from here with it left unplaced (it has no return to respect and
        // may never happen). Skipping it is exact and prunes a lot.
        const nextId = r.ok ? interner.id(r.state) : -1;
        if (r.ok && !(op.ret === Infinity && nextId === stateId)) {
          bits.set(i);
          if (memo.add(bits, nextId)) {
            stackNode[depth] = node;
            stackStateId[depth] = stateId;
            depth++;
            state = r.state;
            stateId = nextId;
            list.lift(node);
            if (op.ret !== Infinity && --definiteLeft === 0) {
              status = 'ok';
              break;
            }
            node = next[EventList.HEAD];
            continue;
          }
          bits.clear(i);
        }
        node = next[node];
        continue;
      }
      if (node === list.tail) {
        // Unreachable while definiteLeft > 0 (a known return precedes the
        // tail); kept so a broken invariant cannot loop forever.
        status = 'ok';
        break;
      }
      // A return whose operation is not linearized yet: dead end here.
      if (!this.stuck || depth > this.stuck.depth) {
        const lastLinearized: number[] = [];
        for (let k = Math.max(0, depth - TAIL_KEPT); k < depth; k++) lastLinearized.push(opOf[stackNode[k]]);
        this.stuck = { op: opOf[node], state, lastLinearized, depth };
      }
      if (depth === 0) {
        status = 'fail';
        break;
      }
      depth--;
      const call = stackNode[depth];
      stateId = stackStateId[depth];
      state = interner.state(stateId);
      const i = opOf[call];
      bits.clear(i);
      if (ops[i].ret !== Infinity) definiteLeft++;
      list.unlift(call);
      node = next[call];
    }
    this.depth = depth;
    this.state = state;
    this.stateId = stateId;
    this.node = node;
    this.definiteLeft = definiteLeft;
    this.status = status;
    return status;
  }
}
