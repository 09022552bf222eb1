import { Packr, Unpackr } from '../util/msgpack.js';
import type { StateMachine } from './driver.js';
import { packSlices, unpackSlices } from '../util/sliced-pack.js';

/**
 * A replicated string key/value map: the reference StateMachine used by the
 * Raft driver tests and `bench:raft`. (The managers' real state machine is
 * the desired-state store; it exposes the same put/append/get semantics for
 * linearizability checks.)
 *
 * Commands: put(key, value) and append(key, value) → the new value. Reads do
 * not go through the log: callers pass a ReadIndex barrier and then `get`.
 */
export type KvCommand = { op: 'put'; key: string; value: string } | { op: 'append'; key: string; value: string };

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

export function encodeKvCommand(c: KvCommand): Uint8Array {
  return packr.pack(c);
}

export class KvStateMachine implements StateMachine {
  private data = new Map<string, string>();
  /** Index of the last applied entry; the snapshot records it for inspection. */
  lastIndex = 0;

  apply(entry: { index: number; command: Uint8Array }): string {
    this.lastIndex = entry.index;
    const c = unpackr.unpack(entry.command) as KvCommand;
    if (typeof c?.key !== 'string' || typeof c.value !== 'string') throw new TypeError('kv command needs string key and value');
    if (c.op !== 'put' && c.op !== 'append') throw new TypeError(`unknown kv op ${String((c as { op?: unknown }).op)}`);
    const next = c.op === 'append' ? (this.data.get(c.key) ?? '') + c.value : c.value;
    this.data.set(c.key, next);
    return next;
  }

  get(key: string): string | undefined {
    return this.data.get(key);
  }

  get size(): number {
    return this.data.size;
  }

  /** Captures the map now; encodes it in slices so a big KV never stalls Raft. */
  snapshot(): Promise<Uint8Array> {
    const i = this.lastIndex;
    return packSlices([...this.data]).then((chunks) => packr.pack({ i, chunks }));
  }

  restore(data: Uint8Array): void {
    const s = unpackr.unpack(data) as { i: number; chunks: Uint8Array[] };
    this.data = new Map(unpackSlices<[string, string]>(s.chunks));
    this.lastIndex = s.i;
  }
}
