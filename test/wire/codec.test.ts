import t from 'tap';
import { Packr, unpackMultiple } from 'msgpackr';
import '../../src/protocol.js';
import './fixtures/messages.js';
import { Codec, FrameKind, rawFrame } from '../../src/wire/codec.js';
import { WireError, WireErrorCode } from '../../src/wire/errors.js';
import { registry, MessageRegistry } from '../../src/wire/registry.js';
import { object, uint } from '../../src/wire/schema.js';

const codec = new Codec();

t.test('every registered message type round-trips its samples', async (t) => {
  const types = registry.all();
  t.ok(types.length >= 4, `registry holds ${types.length} types`);
  for (const mt of types) {
    const samples = mt.samples();
    t.ok(samples.length > 0, `${mt.name} has samples`);
    for (const [i, body] of samples.entries()) {
      for (const kind of [FrameKind.Message, FrameKind.Request, FrameKind.StreamOpen, FrameKind.StreamData]) {
        const id = kind === FrameKind.Message ? 0 : 7;
        const env = codec.decode(codec.encode(kind, mt.name, id, body));
        t.same(env, { t: mt.name, v: mt.version, k: kind, i: id, b: body }, `${mt.name} sample ${i} kind ${kind}`);
        t.same(unpackMultiple(codec.encode(kind, mt.name, id, body)), [[kind, mt.name, mt.version, id], body], 'a frame is two plain msgpack values');
      }
    }
    for (const body of mt.responseSamples?.() ?? []) {
      const env = codec.decode(codec.encode(FrameKind.Response, mt.name, 8, body));
      t.same(env.b, body, `${mt.name} response sample`);
    }
  }
});

t.test('typed errors for bad frames', async (t) => {
  const p = new Packr({ useRecords: true });
  const code = (f: Uint8Array): string => {
    try {
      codec.decode(f);
      return 'ok';
    } catch (e) {
      t.ok(e instanceof WireError, 'a WireError');
      return (e as WireError).code;
    }
  };
  const body = (v: unknown) => p.pack(v);
  t.equal(code(Buffer.alloc(0)), WireErrorCode.MALFORMED_FRAME);
  t.equal(code(Buffer.from([0xc1])), WireErrorCode.MALFORMED_FRAME, 'never-used msgpack byte');
  t.equal(code(p.pack([1, 2, 3])), WireErrorCode.MALFORMED_FRAME, 'not an envelope');
  t.equal(code(rawFrame(0, 'no.such', 1, 0, body(0))), WireErrorCode.UNKNOWN_TYPE);
  t.equal(code(rawFrame(0, 'wire.ping', 9, 0, body(0))), WireErrorCode.BAD_VERSION);
  t.equal(code(rawFrame(0, 'wire.ping', 1, 0, body('x'))), WireErrorCode.INVALID_BODY);
  t.equal(code(rawFrame(0, 'wire.ping', 1, 3, body(0))), WireErrorCode.MALFORMED_FRAME, 'message with an id');
  t.equal(code(rawFrame(9, 'wire.ping', 1, 3, body(0))), WireErrorCode.MALFORMED_FRAME, 'bad kind');
  t.equal(code(rawFrame(0, 'wire.ping', 1, 0, Buffer.concat([body(0), body(1)]))), WireErrorCode.MALFORMED_FRAME, 'trailing bytes after the body');
  t.equal(code(rawFrame(2, 'test.echo', 1, 3, body({ payload: 'str' }))), WireErrorCode.INVALID_BODY, 'bad response body');
  const small = new Codec({ maxFrameBytes: 100 });
  t.throws(() => small.decode(Buffer.alloc(101)), { code: WireErrorCode.FRAME_TOO_LARGE }, 'size checked before decoding');
  t.throws(() => small.encode(FrameKind.Message, 'test.note', 0, { seq: 1, payload: Buffer.alloc(200) }), { code: WireErrorCode.FRAME_TOO_LARGE });
  t.throws(() => codec.encode(FrameKind.Message, 'no.such', 0, {}), { code: WireErrorCode.UNKNOWN_TYPE });
  const err = (() => {
    try {
      codec.decode(rawFrame(0, 'test.note', 1, 0, p.pack({ seq: -1, payload: Buffer.alloc(1) })));
    } catch (e) {
      return e as WireError;
    }
  })();
  t.match(err?.message, /seq: -1 out of range/, 'the error names the bad field');
});

t.test('version ranges', async (t) => {
  const r = new MessageRegistry();
  r.define({ name: 'x.y', version: 3, minVersion: 2, body: object({ a: uint() }), samples: () => [{ a: 1 }] });
  const c = new Codec({ registry: r });
  const b = new Packr({ useRecords: true }).pack({ a: 1 });
  t.equal(c.decode(rawFrame(0, 'x.y', 2, 0, b)).v, 2, 'older accepted version decodes');
  t.throws(() => c.decode(rawFrame(0, 'x.y', 1, 0, b)), { code: WireErrorCode.BAD_VERSION });
  t.throws(() => c.decode(rawFrame(0, 'x.y', 4, 0, b)), { code: WireErrorCode.BAD_VERSION });
  t.throws(() => r.define({ name: 'x.y', version: 3, body: object({}), samples: () => [{}] }), { code: WireErrorCode.REGISTRY }, 'no double registration');
  t.throws(() => r.define({ name: 'Bad Name', version: 1, body: object({}), samples: () => [{}] }), { code: WireErrorCode.REGISTRY });
});
