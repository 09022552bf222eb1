/**
 * Encoded size of a gossip message without encoding it: the exact msgpack
 * length when plain objects are encoded as maps (msgpackr with useRecords:
 * false). Record encoding with shared structures, which the UDP transport may
 * use, is smaller, so this is a safe upper bound for fitting piggybacked
 * messages into a datagram. Pure arithmetic: runs for every piggybacked
 * message, so it must be cheap.
 */

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
      let keys = 0;
      for (const k in v) {
        if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
        keys++;
        n += strSize(k) + encodedSize((v as Record<string, unknown>)[k]);
      }
      return n + containerHeader(keys);
    }
    default:
      return 9;
  }
}

/** Size of a packet: the messages as one msgpack array. */
export function packetSize(sizes: number): number {
  return sizes + 3;
}
