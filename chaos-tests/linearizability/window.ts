import type { Model, Operation } from './interface.js';
import type { Stuck } from './search.js';

/** At most this many operations in a window: enough to see the conflict, short enough to read. */
const MAX_OPS = 8;

/**
 * Renders the operations around the point where the deepest partial
 * linearization got stuck, one per line, e.g. (c50-bad):
 *
 *   key "3": no linearization of 206 operations gets past the one marked >> (22 placed before it; state then: "…x 4 1 y")
 *        client 20  call  80  ret 609  append("3", "x 20 0 y")
 *      * client 4   call 422  ret 439  append("3", "x 4 1 y")
 *     >> client 37  call 442  ret 443  get("3") -> "…x 0 1 y"
 *
 * That is: the stuck operation (its return came before any order could
 * place it), the last operations of the partial linearization (*), and the
 * operations concurrent with the stuck one that were still unplaced. Times
 * are whatever the history used (line numbers for parsed files).
 */
export function renderWindow<S, I, O>(
  model: Model<S, I, O>,
  ops: readonly Operation<I, O>[],
  stuck: Stuck<S>,
): string {
  const s = ops[stuck.op];
  const chosen = new Set<number>([...stuck.lastLinearized, stuck.op]);
  const linearized = new Set(stuck.lastLinearized);
  // Concurrent with the stuck operation: known outcomes first (an unknown one
  // overlaps everything after its call, so it says less), nearest call first.
  const unknown = (i: number) => (ops[i].ret === Infinity ? 1 : 0);
  const concurrent = ops
    .map((_, i) => i)
    .filter((i) => !chosen.has(i) && ops[i].call < s.ret && ops[i].ret > s.call)
    .sort((a, b) => unknown(a) - unknown(b) || Math.abs(ops[a].call - s.call) - Math.abs(ops[b].call - s.call));
  for (const i of concurrent) {
    if (chosen.size >= MAX_OPS) break;
    chosen.add(i);
  }
  const shown = [...chosen].sort((a, b) => ops[a].call - ops[b].call || a - b);

  const head = model.describePartition ? `${model.describePartition([...ops])}: ` : '';
  const stateText = model.describeState ? model.describeState(stuck.state) : model.hash(stuck.state);
  const lines = [
    `${head}no linearization of ${ops.length} operations gets past the one marked >>` +
      ` (${stuck.depth} placed before it; state then: ${stateText})`,
  ];
  const rows = shown.map((i) => {
    const op = ops[i];
    const mark = i === stuck.op ? '>>' : linearized.has(i) ? ' *' : '  ';
    const ret = op.ret === Infinity ? 'unknown' : String(op.ret);
    const desc = model.describe(op.input, op.ret === Infinity ? undefined : op.output);
    return { mark, client: String(op.client), call: String(op.call), ret, desc };
  });
  const w = (k: 'client' | 'call' | 'ret') => Math.max(...rows.map((r) => r[k].length));
  const wc = w('client'), wl = w('call'), wr = w('ret');
  for (const r of rows) {
    lines.push(
      `  ${r.mark} client ${r.client.padEnd(wc)}  call ${r.call.padStart(wl)}  ret ${r.ret.padStart(wr)}  ${r.desc}`,
    );
  }
  if (linearized.size > 0) lines.push(`  (* = among the last ${linearized.size} operations placed before it)`);
  return lines.join('\n');
}
