/**
 * The recorded history: every client operation with its call and return
 * time on the run clock, the manager it went to and how it ended. Unknown
 * outcomes carry ret = Infinity (they may take effect at any point after
 * the call, or never). Converted to the checker's Operation shapes at the end.
 */
import type { CasInput, CasOperation, CasOutput, KvInput, KvOperation, KvOutput } from '../linearizability/index.js';

export type OpOutcome = 'ok' | 'fail' | 'unknown';

interface Common {
  client: number;
  node: string;
  call: number;
  ret: number;
  key: string;
  outcome: OpOutcome;
  detail?: string;
  /** An unknown outcome settled afterwards: 'absent' = it never took effect (see resolveAppends). */
  resolved?: 'absent';
}

export type OpRecord = (Common & { model: 'kv'; input: KvInput; output?: KvOutput }) | (Common & { model: 'cas'; input: CasInput; output?: CasOutput });

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

  /**
   * Settles unknown appends on the append-only log keys: a log key is never
   * overwritten, so an append that took effect leaves its token there for
   * good. One whose token no manager holds at the end never happened and is
   * dropped from the history — without this, each such append may be placed
   * anywhere after its call, and a handful of them make the search
   * factorial. (A token seen by some read and missing at the end still
   * fails the check: the reads that saw it become impossible.)
   */
  resolveAppends(logKeys: readonly string[], present: (key: string, token: string) => boolean): number {
    let n = 0;
    for (const o of this.ops) {
      if (o.model !== 'kv' || o.outcome !== 'unknown' || o.input.op !== 'append' || !logKeys.includes(o.key)) continue;
      if (!present(o.key, o.input.value.replace(/;$/, ''))) {
        o.resolved = 'absent';
        n++;
      }
    }
    return n;
  }

  /** Everything that may have happened: ok and unknown (a definite failure did not happen and is left out). */
  kvOps(): KvOperation[] {
    const out: KvOperation[] = [];
    for (const o of this.ops) {
      if (o.model !== 'kv' || o.outcome === 'fail' || o.resolved) continue;
      out.push({ client: o.client, call: o.call, ret: o.outcome === 'unknown' ? Infinity : o.ret, input: o.input, output: o.outcome === 'unknown' ? undefined : o.output });
    }
    return out;
  }

  /** CAS register histories, one per key (the register model holds one value). */
  casOps(): Map<string, CasOperation[]> {
    const out = new Map<string, CasOperation[]>();
    for (const o of this.ops) {
      if (o.model !== 'cas' || o.outcome === 'fail' || o.resolved) continue;
      const l = out.get(o.key) ?? [];
      l.push({ client: o.client, call: o.call, ret: o.outcome === 'unknown' ? Infinity : o.ret, input: o.input, output: o.outcome === 'unknown' ? undefined : o.output });
      out.set(o.key, l);
    }
    return out;
  }
}
