/**
 * Encoded size of a gossip message without encoding it: exactly what
 * msgpackr produces with useRecords: false (objects as maps with msgpackr's
 * default 3-byte map16 header). Record encoding with shared structures, which
 * the UDP transport may use, is smaller; a standalone record costs one byte
 * more per object, which the per-packet overhead reserve covers. The UDP
 * transport may pass its own exact `sizeOf` to the core. Pure arithmetic: runs for every piggybacked
 * message, so it must be cheap.
 */
import type { GossipMessage } from './interface.js';
import { weakMemo } from '../util/weak-memo.js';

/** UTF-8 byte length of a JS string (surrogate pairs count 4). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function strSize(s: string): number {
  const b = utf8Length(s);
  if (b < 32) return 1 + b;
  if (b < 256) return 2 + b;
  if (b < 65536) return 3 + b;
  return 5 + b;
}

function numSize(v: number): number {
  if (Number.isInteger(v)) {
    if (v >= 0) {
      if (v < 128) return 1;
      if (v < 256) return 2;
      if (v < 65536) return 3;
      if (v <= 0xffffffff) return 5;
      return 9;
    }
    if (v >= -32) return 1;
    if (v >= -128) return 2;
    if (v >= -32768) return 3;
    if (v >= -2147483648) return 5;
    return 9;
  }
  return 9; // float64
}

function containerHeader(n: number): number {
  if (n < 16) return 1;
  if (n < 65536) return 3;
  return 5;
}

/** msgpack size of a JSON-like value (objects as maps, Uint8Array as bin). */
export function encodedSize(v: unknown): number {
  switch (typeof v) {
    case 'string':
      return strSize(v);
    case 'number':
      return numSize(v);
    case 'boolean':
      return 1;
    case 'undefined':
      return 1;
    case 'object': {
      if (v === null) return 1;
      if (v instanceof Uint8Array) {
        const b = v.byteLength;
        return (b < 256 ? 2 : b < 65536 ? 3 : 5) + b;
      }
      if (Array.isArray(v)) {
        let n = containerHeader(v.length);
        for (let i = 0; i < v.length; i++) n += encodedSize(v[i]);
        return n;
      }
      let n = 0;
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        n += strSize(k) + encodedSize((v as Record<string, unknown>)[k]);
      }
      return n + 3; // msgpackr writes map16 headers unless variableMapSize is set
    }
    default:
      return 9;
  }
}

/** Size of a packet: the messages as one msgpack array. */
export function packetSize(sizes: number): number {
  return sizes + 3;
}

/** A metadata object is replaced, never changed, when a member's metadata changes. */
const metaSize = weakMemo((meta: object) => encodedSize(meta));

function binSize(b: Uint8Array): number {
  const l = b.byteLength;
  return (l < 256 ? 2 : l < 65536 ? 3 : 5) + l;
}

/**
 * encodedSize specialised per gossip message type: the same number, without
 * walking object keys (this runs for every message put in a packet). Key
 * sizes are fixed: e.g. "type" encodes in 5 bytes, its value "ping" in 5.
 */
export function messageSize(m: GossipMessage): number {
  switch (m.type) {
    case 'ping':
      return 3 + 10 + 4 + numSize(m.seq) + 5 + strSize(m.from) + 7 + strSize(m.target);
    case 'pingReq':
      return 3 + 13 + 4 + numSize(m.seq) + 5 + strSize(m.from) + 7 + strSize(m.target) + 11 + strSize(m.targetAddr) + 6;
    case 'ack':
      return 3 + 9 + 4 + numSize(m.seq) + 5 + strSize(m.from);
    case 'nack':
      return 3 + 10 + 4 + numSize(m.seq) + 5 + strSize(m.from);
    case 'alive':
      return (
        3 + 11 + 3 + strSize(m.id) + 4 + numSize(m.inc) + 5 + strSize(m.addr) + 12 + strSize(m.clusterAddr) + 5 + strSize(m.role) + 5 + metaSize(m.meta)
      );
    case 'suspect':
      return 3 + 13 + 3 + strSize(m.id) + 4 + numSize(m.inc) + 5 + strSize(m.from);
    case 'dead':
      return 3 + 10 + 3 + strSize(m.id) + 4 + numSize(m.inc) + 5 + strSize(m.from);
    case 'user':
      return 3 + 10 + 7 + strSize(m.origin) + 6 + numSize(m.epoch) + 4 + numSize(m.seq) + 8 + binSize(m.payload);
  }
}
