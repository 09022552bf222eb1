/**
 * Entry payload framing used by the driver. Every proposal is tagged with
 * the node that proposed it and a per-node sequence number, so whichever node
 * it reaches the log through (a follower forwards to the leader), the
 * originating node recognises its own entry when it applies it and resolves
 * the caller's promise with the state machine's result.
 *
 * Layout: version u8 | origin length u8 | origin utf-8 | seq f64 BE | command
 */
const VERSION = 1;
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export interface Proposal {
  origin: string;
  seq: number;
  command: Uint8Array;
}

/** The last origin encoded: a node encodes only its own, so this is a one-entry cache. */
let lastOrigin = '';
let lastOriginBytes = new Uint8Array(0);
/** The last origin decoded, by its bytes: a log holds runs of entries from the same few origins. */
let lastDecodedBytes = new Uint8Array(0);
let lastDecoded = '';

export function encodeProposal(origin: string, seq: number, command: Uint8Array): Uint8Array {
  if (origin !== lastOrigin) {
    lastOriginBytes = enc.encode(origin);
    lastOrigin = origin;
  }
  const o = lastOriginBytes;
  if (o.length > 255) throw new RangeError('node id longer than 255 bytes');
  const out = new Uint8Array(2 + o.length + 8 + command.length);
  out[0] = VERSION;
  out[1] = o.length;
  out.set(o, 2);
  new DataView(out.buffer, out.byteOffset, out.byteLength).setFloat64(2 + o.length, seq);
  out.set(command, 10 + o.length);
  return out;
}

/** Null when the bytes are not a proposal frame (never produced by us: the entry is skipped and counted). */
export function decodeProposal(b: Uint8Array): Proposal | null {
  if (b.length < 10 || b[0] !== VERSION) return null;
  const n = b[1]!;
  if (b.length < 10 + n) return null;
  let origin: string;
  if (sameBytes(lastDecodedBytes, b, 2, n)) origin = lastDecoded;
  else {
    try {
      origin = dec.decode(b.subarray(2, 2 + n));
    } catch {
      return null;
    }
    lastDecodedBytes = b.slice(2, 2 + n);
    lastDecoded = origin;
  }
  const seq = new DataView(b.buffer, b.byteOffset, b.byteLength).getFloat64(2 + n);
  return { origin, seq, command: b.subarray(10 + n) };
}

function sameBytes(a: Uint8Array, b: Uint8Array, at: number, n: number): boolean {
  if (a.length !== n) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[at + i]) return false;
  return true;
}
