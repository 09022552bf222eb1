/**
 * The simulated replicated state machine: a string KV store with get / put /
 * append. Commands carry a unique op id and are applied at most once (the
 * network may duplicate a forwarded proposal, and a client's timed-out
 * attempt may still commit): a real store does the same with client sessions.
 */
import type { Entry } from '../../../src/raft/interface.js';

export type KvCommand = { id: number; op: 'get' | 'put' | 'append'; key: string; value: string };

const te = new TextEncoder();
const td = new TextDecoder();

export function encodeCommand(c: KvCommand): Uint8Array {
  return te.encode(JSON.stringify([c.id, c.op, c.key, c.value]));
}

export function decodeCommand(b: Uint8Array): KvCommand {
  const [id, op, key, value] = JSON.parse(td.decode(b)) as [number, KvCommand['op'], string, string];
  return { id, op, key, value };
}

export interface Applied {
  id: number;
  /** Value read (get) or the value after the write; only the first application counts. */
  value: string;
}

export class KvStateMachine {
  data = new Map<string, string>();
  seen = new Set<number>();
  applied = 0;

  apply(e: Entry): Applied | null {
    this.applied = e.index;
    if (e.type !== 'normal') return null;
    const c = decodeCommand(e.data);
    if (this.seen.has(c.id)) return null;
    this.seen.add(c.id);
    const cur = this.data.get(c.key) ?? '';
    switch (c.op) {
      case 'get':
        return { id: c.id, value: cur };
      case 'put':
        this.data.set(c.key, c.value);
        return { id: c.id, value: c.value };
      case 'append':
        this.data.set(c.key, cur + c.value);
        return { id: c.id, value: cur + c.value };
    }
  }

  get(key: string): string {
    return this.data.get(key) ?? '';
  }

  snapshot(): Uint8Array {
    return te.encode(JSON.stringify({ a: this.applied, d: [...this.data], s: [...this.seen] }));
  }

  static restore(b: Uint8Array): KvStateMachine {
    const o = JSON.parse(td.decode(b)) as { a: number; d: [string, string][]; s: number[] };
    const kv = new KvStateMachine();
    kv.applied = o.a;
    kv.data = new Map(o.d);
    kv.seen = new Set(o.s);
    return kv;
  }
}
