import { Packr, Unpackr } from 'msgpackr';
import { WireError, WireErrorCode } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from './options.js';
import { registry as defaultRegistry, type MessageRegistry, type MessageType } from './registry.js';
import { object, str, validate } from './schema.js';

/**
 * Frame kinds. A frame is one msgpackr record: the envelope
 * `{t: type, v: version, k: kind, i: id, b: body}`.
 * `i` pairs requests with responses and names streams; it is 0 for one-way
 * messages. The dialler allocates odd ids and the acceptor even ones, so both
 * sides can open requests and streams without colliding.
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

export interface Envelope<B = unknown> {
  t: string;
  v: number;
  k: FrameKind;
  i: number;
  b: B;
}

/** Body of ErrorResponse and StreamReset frames. */
export interface ErrorBody {
  code: string;
  message: string;
}
export const errorBodySchema = object({ code: str({ max: 64 }), message: str({ max: 4096 }) });

export interface CodecOptions {
  maxFrameBytes?: number;
  registry?: MessageRegistry;
}

/**
 * Encodes and decodes frames. Decoding never throws anything but a
 * WireError: size is checked before msgpackr sees a byte, msgpackr's own
 * exceptions (and stack overflows on hostile nesting) are wrapped, and the
 * body is validated against the type's schema before anyone reads it.
 */
export class Codec {
  readonly maxFrameBytes: number;
  readonly registry: MessageRegistry;
  // Records on (self-describing per frame: no shared structure state, so any
  // frame decodes on its own — required for datagrams and for dropped frames
  // under fault injection). Extension types that could build non-data objects
  // (RegExp, Error, structured clones) stay off: frames come from the network.
  private readonly packr = new Packr({ useRecords: true, moreTypes: false, structuredClone: false });
  private readonly unpackr = new Unpackr({ useRecords: true, moreTypes: false, structuredClone: false, mapsAsObjects: true });

  constructor(opts: CodecOptions = {}) {
    this.maxFrameBytes = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.registry = opts.registry ?? defaultRegistry;
  }

  /** Encodes a frame of a registered type. Throws WireError (UNKNOWN_TYPE, FRAME_TOO_LARGE). */
  encode(kind: FrameKind, type: string, id: number, body: unknown): Buffer {
    const mt = this.registry.get(type);
    if (!mt) throw new WireError(WireErrorCode.UNKNOWN_TYPE, `cannot send unregistered message type ${type}`, type);
    const frame = this.packr.pack({ t: type, v: mt.version, k: kind, i: id, b: body });
    if (frame.length > this.maxFrameBytes) {
      throw new WireError(
        WireErrorCode.FRAME_TOO_LARGE,
        `frame of ${frame.length} bytes exceeds the maximum of ${this.maxFrameBytes} (type ${type})`,
        type,
      );
    }
    return frame;
  }

  /** Decodes and validates one frame. Throws only WireError. */
  decode(frame: Uint8Array): Envelope {
    if (frame.byteLength > this.maxFrameBytes) {
      throw new WireError(WireErrorCode.FRAME_TOO_LARGE, `frame of ${frame.byteLength} bytes exceeds the maximum of ${this.maxFrameBytes}`);
    }
    if (frame.byteLength === 0) throw new WireError(WireErrorCode.MALFORMED_FRAME, 'empty frame');
    let raw: unknown;
    try {
      raw = this.unpackr.unpack(frame);
    } catch (err) {
      throw new WireError(WireErrorCode.MALFORMED_FRAME, `undecodable frame: ${(err as Error)?.message ?? String(err)}`.slice(0, 200));
    }
    const env = checkEnvelope(raw);
    const mt = this.registry.get(env.t);
    if (!mt) throw new WireError(WireErrorCode.UNKNOWN_TYPE, `unknown message type ${JSON.stringify(env.t)}`, env.t);
    if (env.v < mt.minVersion || env.v > mt.version) {
      throw new WireError(
        WireErrorCode.BAD_VERSION,
        `message type ${env.t} version ${env.v} not in supported range [${mt.minVersion}, ${mt.version}]`,
        env.t,
      );
    }
    const err = validateBody(mt, env);
    if (err !== null) throw new WireError(WireErrorCode.INVALID_BODY, `${env.t}: ${err}`, env.t);
    return env;
  }
}

function checkEnvelope(raw: unknown): Envelope {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw instanceof Uint8Array) {
    throw new WireError(WireErrorCode.MALFORMED_FRAME, 'frame is not an envelope object');
  }
  const e = raw as Record<string, unknown>;
  if (typeof e.t !== 'string' || e.t.length === 0 || e.t.length > 64) {
    throw new WireError(WireErrorCode.MALFORMED_FRAME, 'envelope field t (type) must be a string of 1..64 chars');
  }
  if (typeof e.v !== 'number' || !Number.isInteger(e.v) || e.v < 0) {
    throw new WireError(WireErrorCode.MALFORMED_FRAME, 'envelope field v (version) must be a non-negative integer');
  }
  if (typeof e.k !== 'number' || !Number.isInteger(e.k) || e.k < 0 || e.k > MAX_KIND) {
    throw new WireError(WireErrorCode.MALFORMED_FRAME, 'envelope field k (kind) must be an integer in [0, 7]');
  }
  if (typeof e.i !== 'number' || !Number.isSafeInteger(e.i) || e.i < 0) {
    throw new WireError(WireErrorCode.MALFORMED_FRAME, 'envelope field i (id) must be a non-negative safe integer');
  }
  if ((e.k === FrameKind.Message) !== (e.i === 0)) {
    throw new WireError(WireErrorCode.MALFORMED_FRAME, 'envelope id must be 0 exactly for one-way messages');
  }
  return raw as Envelope;
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
