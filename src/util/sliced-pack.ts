import { Packr, Unpackr } from './msgpack.js';

/**
 * Serialises a large array in slices, one per event-loop turn, so encoding
 * a state-machine snapshot never stalls the process for long (timers,
 * heartbeats and client requests run between slices). The caller captures
 * the array synchronously; its items must not change afterwards (the store's
 * objects are immutable, the KV's strings are values).
 */
const packr = new Packr({ useRecords: true });
const unpackr = new Unpackr({ useRecords: true, moreTypes: false, structuredClone: false });

/** Items per slice: a few milliseconds of msgpack work each. */
const SLICE = 2_000;

export async function packSlices<T>(items: readonly T[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 0; i < items.length; i += SLICE) {
    out.push(packr.pack(items.slice(i, i + SLICE)));
    if (i + SLICE < items.length) await new Promise((r) => setImmediate(r));
  }
  return out;
}

export function unpackSlices<T>(chunks: readonly Uint8Array[]): T[] {
  const out: T[] = [];
  for (const c of chunks) for (const x of unpackr.unpack(c) as T[]) out.push(x);
  return out;
}
