/**
 * The recorded history: every client operation with its call and return
 * time on the run clock, the manager it went to and how it ended. Unknown
 * outcomes carry ret = Infinity (they may take effect at any point after
 * the call, or never). Converted to the checker's Operation shapes at the end.
 */
import type { CasInput, CasOperation, CasOutput, KvInput, KvOperation, KvOutput } from '../linearizability/index.js';

export type OpOutcome = 'ok' | 'fail' | 'unknown';

export type OpRecord =
  | { model: 'kv'; client: number; node: string; call: number; ret: number; key: string; input: KvInput; output?: KvOutput; outcome: OpOutcome; detail?: string }
  | { model: 'cas'; client: number; node: string; call: number; ret: number; key: string; input: CasInput; output?: CasOutput; outcome: OpOutcome; detail?: string };

export class History {
  readonly ops: OpRecord[] = [];
  private nextClient = 0;

  /** A fresh logical client: after an unknown outcome a client never issues another op under the same id. */
  newClient(): number {
    return this.nextClient++;
  }

  add(op: OpRecord): void {
    this.ops.push(op);
  }

  /** Everything that may have happened: ok and unknown (a definite failure did not happen and is left out). */
  kvOps(): KvOperation[] {
    const out: KvOperation[] = [];
    for (const o of this.ops) {
      if (o.model !== 'kv' || o.outcome === 'fail') continue;
      out.push({ client: o.client, call: o.call, ret: o.outcome === 'unknown' ? Infinity : o.ret, input: o.input, output: o.outcome === 'unknown' ? undefined : o.output });
    }
    return out;
  }

  /** CAS register histories, one per key (the register model holds one value). */
  casOps(): Map<string, CasOperation[]> {
    const out = new Map<string, CasOperation[]>();
    for (const o of this.ops) {
      if (o.model !== 'cas' || o.outcome === 'fail') continue;
      const l = out.get(o.key) ?? [];
      l.push({ client: o.client, call: o.call, ret: o.outcome === 'unknown' ? Infinity : o.ret, input: o.input, output: o.outcome === 'unknown' ? undefined : o.output });
      out.set(o.key, l);
    }
    return out;
  }
}
