import { Packr, RESERVE_START_SPACE, Unpackr } from '../util/msgpack.js';
import { WireError, WireErrorCode } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from './options.js';
import { registry as defaultRegistry, type MessageRegistry, type MessageType } from './registry.js';
import { WIRE_MESSAGES } from './messages.js';
import type { ErrorData } from '../util/errors.js';
import { bool, nullable, object, optional, str, uint, validate } from './schema.js';
import { MAX_OWN_STRUCTURES, MAX_SHARED_STRUCTURES, fingerprint, packStructures, typeShapes, unpackStructures, type Structures } from './structures.js';

/**
 * Frame kinds. `i` pairs requests with responses and names streams; it is 0
 * for one-way messages. The dialler allocates odd ids and the acceptor even
 * ones, so both sides can open requests and streams without colliding.
 */
export const FrameKind = {
  Message: 0,
  Request: 1,
  Response: 2,
  ErrorResponse: 3,
  StreamOpen: 4,
  StreamData: 5,
  StreamEnd: 6,
  StreamReset: 7,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];
const MAX_KIND = 7;
/**
 * Set in the envelope's kind byte when the body refers to its type's static
 * record structures (structures.ts) instead of defining every record inline.
 */
export const SHARED_STRUCTURES = 0x10;

export interface Envelope<B = unknown> {
  t: string;
  v: number;
  k: FrameKind;
  i: number;
  b: B;
}

/** Body of ErrorResponse and StreamReset frames. */
export type ErrorBody = ErrorData;
/** util/errors.ts's wire form. The optional fields are newer than the frame kind: an older peer sends code and message only. */
export const errorBodySchema = object({
  code: str({ max: 64 }),
  message: str({ max: 4096 }),
  retryable: optional(bool()),
  status: optional(uint({ max: 599 })),
  leader: optional(object({ nodeId: str({ max: 128 }), addr: nullable(str({ max: 256 })) })),
});

export interface CodecOptions {
  maxFrameBytes?: number;
  registry?: MessageRegistry;
}

/**
 * Encodes and decodes frames. Decoding never throws anything but a
 * WireError: size is checked before any parsing, the envelope is checked
 * byte by byte, msgpackr's own exceptions (and stack overflows on hostile
 * nesting) are wrapped, and the body is validated against the type's schema
 * before anyone reads it.
 */
export class Codec {
  readonly maxFrameBytes: number;
  readonly registry: MessageRegistry;
  // Records on. Extension types that could build non-data objects (RegExp,
  // Error, structured clones) stay off: frames come from the network.
  // The packer swaps in the frame's type's static structure table before each
  // frame (structures.ts); shapes outside the table are defined inline and
  // never promoted into it. Nothing carries over from one frame to the next,
  // so any frame decodes on its own — required for datagrams and for dropped
  // frames under fault injection.
  private readonly packr = new Packr({
    useRecords: true,
    moreTypes: false,
    structuredClone: false,
    structures: [],
    maxSharedStructures: MAX_SHARED_STRUCTURES,
    maxOwnStructures: MAX_OWN_STRUCTURES,
    shouldShareStructure: () => false,
  });
  /** Decodes bodies that use their type's table (SHARED_STRUCTURES set). */
  private readonly sharedUnpackr = new Unpackr({ useRecords: true, moreTypes: false, structuredClone: false, mapsAsObjects: true, structures: [] });
  /** Decodes self-describing bodies (no table). */
  private readonly unpackr = new Unpackr({ useRecords: true, moreTypes: false, structuredClone: false, mapsAsObjects: true });
  /** Per type: envelope bytes up to the id (built once, copied per frame) and the structure tables. */
  private readonly types = new Map<string, TypeCodec>();
  /** The type of the last frame decoded: most frames repeat it, and then its name needs no new string. */
  private lastDecoded: TypeCodec | null = null;
  /** Likewise for encoding: runs of one type skip the Map lookup. */
  private lastEncoded: TypeCodec | null = null;

  constructor(opts: CodecOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.registry = opts.registry ?? defaultRegistry;
    this.registry.add(...(WIRE_MESSAGES as MessageType[]));
    // msgpackr packs successive frames side by side into one buffer and
    // starts a new one when it is nearly full; its default 8 KiB fills every
    // few 1 KiB frames. 256 KiB makes that allocation rare on the hot path.
    this.packr.useBuffer(Buffer.allocUnsafeSlow(256 * 1024));
  }

  private typeCodec(type: string): TypeCodec | undefined {
    let tc = this.types.get(type);
    if (tc === undefined) {
      const mt = this.registry.get(type);
      if (!mt) return undefined;
      const shapes = typeShapes(mt, errorBodySchema);
      const prefix = envelopePrefix(type, mt.version);
      const fp = fingerprint(shapes);
      tc = {
        name: mt.name,
        mt,
        prefix,
        header: Buffer.concat([prefix, Buffer.from([0xce, 0, 0, 0, 0]), ...(shapes.length > 0 ? [uint32(fp)] : [])]),
        shared: shapes.length > 0 ? SHARED_STRUCTURES : 0,
        fingerprint: fp,
        packStructures: packStructures(shapes),
        unpackStructures: unpackStructures(shapes),
      };
      this.types.set(type, tc);
    }
    return tc;
  }

  /** Encodes a frame of a registered type (or of `mt`, which is then registered). Throws WireError (UNKNOWN_TYPE, FRAME_TOO_LARGE). */
  encode(kind: FrameKind, type: string, id: number, body: unknown, mt?: MessageType): Buffer {
    const last = this.lastEncoded;
    let tc = last !== null && last.name === type ? last : this.typeCodec(type);
    if (tc === undefined && mt !== undefined) {
      // A type handed to a send is one this process speaks: known from now on (registry.ts). Only a miss pays for it.
      this.registry.add(mt);
      tc = this.typeCodec(type);
    }
    if (tc === undefined) throw new WireError(WireErrorCode.UNKNOWN_TYPE, `cannot send unregistered message type ${type}`, type);
    this.lastEncoded = tc;
    const header = tc.header;
    this.packr.structures = tc.packStructures;
    // msgpackr leaves room in front of the body: the envelope (and table
    // fingerprint) is written there, so a frame costs no allocation and no
    // copy of its body.
    const frame = this.packr.pack(body, RESERVE_START_SPACE | header.length);
    if (frame.length > this.maxFrameBytes) {
      throw new WireError(WireErrorCode.FRAME_TOO_LARGE, `frame of ${frame.length} bytes exceeds the maximum of ${this.maxFrameBytes} (type ${type})`, type);
    }
    // A short loop: Buffer#copy is a native call, dearer than a few dozen byte moves.
    for (let j = 0; j < header.length; j++) frame[j] = header[j]!;
    frame[1] = kind | tc.shared;
    frame.writeUInt32BE(id >>> 0, tc.prefix.length + 1);
    return frame;
  }

  /** Decodes and validates one frame. Throws only WireError. */
  decode(frame: Uint8Array): Envelope {
    if (frame.byteLength > this.maxFrameBytes) {
      throw new WireError(WireErrorCode.FRAME_TOO_LARGE, `frame of ${frame.byteLength} bytes exceeds the maximum of ${this.maxFrameBytes}`);
    }
    const buf = Buffer.isBuffer(frame) ? frame : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
    const last = this.lastDecoded;
    const env = readEnvelope(buf, last);
    const tc = last !== null && env.t === last.name ? last : this.typeCodec(env.t);
    if (tc === undefined) throw new WireError(WireErrorCode.UNKNOWN_TYPE, `unknown message type ${JSON.stringify(env.t)}`, env.t);
    this.lastDecoded = tc;
    const mt = tc.mt;
    const v = env.v;
    if (v < mt.minVersion || v > mt.version) {
      throw new WireError(WireErrorCode.BAD_VERSION, `message type ${env.t} version ${v} not in supported range [${mt.minVersion}, ${mt.version}]`, env.t);
    }
    let unpackr = this.unpackr;
    let table: Structures | null = null;
    let at = bodyAt(buf);
    if (env.k & SHARED_STRUCTURES) {
      // The table is derived from this node's schema of the type: use it only
      // if it is the one the sender used.
      if (buf.length < at + 6 || buf[at] !== 0xce) {
        throw new WireError(WireErrorCode.MALFORMED_FRAME, `${env.t} frame claims record structures but carries no table fingerprint`, env.t);
      }
      const fp = buf.readUInt32BE(at + 1);
      if (fp !== tc.fingerprint) {
        throw new WireError(
          WireErrorCode.BAD_VERSION,
          `${env.t} version ${v} body uses record structures ${fp.toString(16)}, not this node's ${tc.fingerprint.toString(16)}: the peers' schemas of the type differ`,
          env.t,
        );
      }
      at += 5;
      table = tc.unpackStructures;
      unpackr = this.sharedUnpackr;
      unpackr.structures = table;
      env.k = (env.k & ~SHARED_STRUCTURES) as FrameKind;
    }
    try {
      env.b = unpackr.unpack(buf, { start: at });
    } catch (err) {
      throw new WireError(WireErrorCode.MALFORMED_FRAME, `undecodable ${env.t} body: ${(err as Error)?.message ?? String(err)}`.slice(0, 200), env.t);
    } finally {
      // In-frame definitions (msgpackr files them after the shared ones and
      // would drop them when the next frame starts): drop them now.
      if (table !== null && table.length > table.sharedLength!) table.length = table.sharedLength!;
    }
    const err = validateBody(mt, env);
    if (err !== null) throw new WireError(WireErrorCode.INVALID_BODY, `${env.t}: ${err}`, env.t);
    return env;
  }
}

interface TypeCodec {
  readonly name: string;
  readonly mt: MessageType;
  /** Envelope bytes up to the id. */
  readonly prefix: Buffer;
  /** prefix, the id slot, and for a type with a table its fingerprint: copied in front of every body. */
  readonly header: Buffer;
  /** SHARED_STRUCTURES when the type has a table, else 0. */
  readonly shared: number;
  readonly fingerprint: number;
  readonly packStructures: Structures;
  readonly unpackStructures: Structures;
}

/**
 * Frame layout: concatenated msgpack values (`unpackMultiple` reads a
 * captured frame; a body that uses its type's table needs that table, see
 * structures.ts):
 *   1. the envelope, a 4-array in one canonical encoding
 *      [kind: fixint, type: str8, version: uint16, id: uint32]
 *      where kind carries SHARED_STRUCTURES (0x10) when the body uses its
 *      type's static record structures
 *   2. only then: the table's fingerprint, a uint32
 *   3. the body, encoded by msgpackr with records on.
 * The envelope is written and parsed by hand: it is on every frame of every
 * Raft append and heartbeat, and a fixed layout costs a few byte reads
 * instead of a general object decode.
 */
const ID_BYTES = 5; // 0xce + uint32
const MAX_TYPE_LEN = 64;

function envelopePrefix(type: string, version: number): Buffer {
  const name = Buffer.from(type, 'latin1');
  const b = Buffer.allocUnsafe(2 + 2 + name.length + 3);
  b[0] = 0x94; // fixarray of 4
  b[1] = 0; // kind, overwritten per frame
  b[2] = 0xd9; // str8
  b[3] = name.length;
  name.copy(b, 4);
  b[4 + name.length] = 0xcd; // uint16
  b.writeUInt16BE(version, 5 + name.length);
  return b;
}

/** Where the body starts: after the 4-byte array/kind/str8 header, the name, the uint16 version and the uint32 id. */
function bodyAt(b: Buffer): number {
  return 4 + b[3]! + 3 + ID_BYTES;
}

/**
 * Parses the envelope into the Envelope that decode() returns (body still
 * unset, kind byte still carrying the SHARED_STRUCTURES flag): one object per
 * frame.
 */
function readEnvelope(b: Buffer, hint: TypeCodec | null): Envelope {
  if (b.length < 2 + 2 + 1 + 3 + ID_BYTES + 1 || b[0] !== 0x94 || b[2] !== 0xd9) {
    throw new WireError(WireErrorCode.MALFORMED_FRAME, 'frame does not start with a Shoal envelope');
  }
  const k = b[1]!;
  if ((k & ~SHARED_STRUCTURES) > MAX_KIND) throw new WireError(WireErrorCode.MALFORMED_FRAME, `envelope kind ${k} is not in [0, ${MAX_KIND}] (+${SHARED_STRUCTURES})`);
  const len = b[3]!;
  if (len === 0 || len > MAX_TYPE_LEN) throw new WireError(WireErrorCode.MALFORMED_FRAME, `envelope type name length ${len} not in [1, ${MAX_TYPE_LEN}]`);
  const at = 4 + len;
  if (b.length < at + 3 + ID_BYTES + 1 || b[at] !== 0xcd || b[at + 3] !== 0xce) {
    throw new WireError(WireErrorCode.MALFORMED_FRAME, 'truncated or non-canonical envelope');
  }
  const t = hint !== null && sameName(b, hint.prefix, len) ? hint.name : b.toString('latin1', 4, at);
  const v = b.readUInt16BE(at + 1);
  const i = b.readUInt32BE(at + 4);
  if (((k & ~SHARED_STRUCTURES) === FrameKind.Message) !== (i === 0)) {
    throw new WireError(WireErrorCode.MALFORMED_FRAME, 'envelope id must be 0 exactly for one-way messages');
  }
  return { t, v, k: k as FrameKind, i, b: undefined };
}

/** Whether the frame's type name (length byte and bytes) is the one in `prefix`. */
function sameName(b: Buffer, prefix: Buffer, len: number): boolean {
  if (prefix[3] !== len) return false;
  for (let j = 4 + len - 1; j >= 4; j--) if (b[j] !== prefix[j]) return false;
  return true;
}

/**
 * Builds a frame with arbitrary envelope fields and raw body bytes, bypassing
 * the registry: for fuzzing and hostile-peer tests only.
 */
export function rawFrame(kind: number, type: string, version: number, id: number, body: Uint8Array, tableFingerprint?: number): Buffer {
  const prefix = envelopePrefix(type, version);
  prefix[1] = kind;
  return Buffer.concat([prefix, uint32(id), ...(tableFingerprint === undefined ? [] : [uint32(tableFingerprint)]), body]);
}

function uint32(n: number): Buffer {
  const b = Buffer.from([0xce, 0, 0, 0, 0]);
  b.writeUInt32BE(n >>> 0, 1);
  return b;
}

function validateBody(mt: MessageType, env: Envelope): string | null {
  switch (env.k) {
    case FrameKind.Message:
    case FrameKind.Request:
    case FrameKind.StreamOpen:
    case FrameKind.StreamData:
      return validate(mt.body, env.b);
    case FrameKind.Response:
      return mt.response ? validate(mt.response, env.b) : 'type has no response schema';
    case FrameKind.ErrorResponse:
    case FrameKind.StreamReset:
      return validate(errorBodySchema, env.b);
    case FrameKind.StreamEnd:
      return env.b === undefined || env.b === null ? null : 'stream end carries no body';
    default:
      return 'bad kind';
  }
}
