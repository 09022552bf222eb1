import t from 'tap';
import { Packr, Unpackr } from 'msgpackr';
import { CLUSTER_MESSAGES } from '../../src/protocol/index.js';
import { SUPERVISOR_MESSAGES } from '../../src/worker/supervisor/messages.js';
import { TEST_MESSAGES } from './fixtures/messages.js';
import { Codec, FrameKind, SHARED_STRUCTURES, errorBodySchema, rawFrame } from '../../src/wire/codec.js';
import { WireError, WireErrorCode } from '../../src/wire/errors.js';
import { registry, MessageRegistry, type MessageType } from '../../src/wire/registry.js';
import { any, array, object, optional, str, uint } from '../../src/wire/schema.js';
import { fingerprint, typeShapes, unpackStructures } from '../../src/wire/structures.js';

// Nothing registers on import: the types this file exercises are added explicitly.
registry.add(...CLUSTER_MESSAGES, ...(SUPERVISOR_MESSAGES as MessageType[]), ...TEST_MESSAGES);
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
        // Any msgpackr that knows the type's table reads a captured frame.
        const shapes = typeShapes(mt, errorBodySchema);
        const withTable = new Unpackr({ useRecords: true, mapsAsObjects: true, structures: unpackStructures(shapes) });
        t.same(
          withTable.unpackMultiple(codec.encode(kind, mt.name, id, body)),
          shapes.length > 0 ? [[kind | SHARED_STRUCTURES, mt.name, mt.version, id], fingerprint(shapes), body] : [[kind, mt.name, mt.version, id], body],
          'a frame is plain msgpack values: envelope, table fingerprint, body',
        );
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

t.test('static record structures: derived from the schemas, never mutated, not corruptible by a frame', async (t) => {
  const r = new MessageRegistry();
  const inner = object({ x: uint(), y: optional(str()) });
  const mt = r.define({
    name: 'x.shapes',
    version: 1,
    body: object({ a: uint(), items: array(inner), extra: optional(any()) }),
    response: object({ ok: uint() }),
    samples: () => [{ a: 1, items: [{ x: 1, y: 'y' }, { x: 2 }] }],
  });
  const old = r.define({ name: 'x.old', version: 3, minVersion: 2, body: object({ a: uint() }), samples: () => [{ a: 1 }] });
  t.same(typeShapes(mt, errorBodySchema), [['a', 'items'], ['x'], ['ok'], ['code', 'message']], 'required keys in declaration order, nested, response, error body');
  const fp = fingerprint(typeShapes(mt, errorBodySchema));
  const c = new Codec({ registry: r });
  const tc = (c as unknown as { types: Map<string, { packStructures: string[][]; unpackStructures: string[][] }> }).types;
  const snapshot = () => JSON.stringify([...tc.values()].map((x) => [[...x.packStructures], [...x.unpackStructures]]));

  const body = { a: 1, items: [{ x: 1, y: 'y' }, { x: 2 }] };
  const frame = c.encode(FrameKind.Request, 'x.shapes', 1, body);
  t.equal(frame[1], FrameKind.Request | SHARED_STRUCTURES, 'flagged');
  t.ok(!frame.includes(Buffer.from('items')), 'known shapes are not spelled out in the frame');
  t.same(c.decode(frame).b, body);
  const before = snapshot();

  // Shapes outside the table: many of them, nested, in one frame and across frames.
  const odd = { a: 2, items: [{ x: 3, y: 'z' }], extra: Array.from({ length: 80 }, (_, i) => ({ [`k${i}`]: i, nested: { [`n${i % 7}`]: { x: i } } })) };
  for (let i = 0; i < 3; i++) t.same(c.decode(c.encode(FrameKind.Message, 'x.shapes', 0, odd)).b, odd, 'unknown shapes are defined inline');
  t.same(c.decode(c.encode(FrameKind.Message, 'x.shapes', 0, { items: [], a: 5 })).b, { items: [], a: 5 }, 'another key order');
  t.equal(snapshot(), before, 'tables unchanged after encoding and decoding unknown shapes');

  // A hostile body redefines shared record 0x40 inline (a plain msgpackr with no table numbers its first record 0x40).
  const p = new Packr({ useRecords: true });
  const evil = p.pack({ a: 'not a number', items: 'nope', extra: 1, evil: true });
  t.ok(evil[0] === 0xd4 && evil[1] === 0x72 && evil[2] === 0x40, 'the body defines record 0x40');
  const hostile = rawFrame(FrameKind.Message | SHARED_STRUCTURES, 'x.shapes', 1, 0, evil, fp);
  t.throws(() => c.decode(hostile), { code: WireErrorCode.INVALID_BODY }, 'decoded with its own definition, then refused');
  t.throws(() => c.decode(hostile.subarray(0, hostile.length - 3)), { code: WireErrorCode.MALFORMED_FRAME }, 'a truncated redefinition is refused');
  // A redefinition that validates is simply that frame's shape.
  const valid = rawFrame(FrameKind.Message | SHARED_STRUCTURES, 'x.shapes', 1, 0, p.pack({ items: [], a: 9 }), fp);
  t.same(c.decode(valid).b, { items: [], a: 9 });
  t.same(c.decode(frame).b, body, 'the table still decodes legitimate frames');
  t.equal(snapshot(), before, 'tables unchanged after hostile frames');

  // The fingerprint decides whether a table can be used.
  const b = p.pack({ a: 1 });
  const oldFp = fingerprint(typeShapes(old, errorBodySchema));
  t.equal(c.decode(rawFrame(0, 'x.old', 2, 0, b)).v, 2, 'unflagged older version decodes');
  t.equal(c.decode(rawFrame(FrameKind.Message | SHARED_STRUCTURES, 'x.old', 2, 0, b, oldFp)).v, 2, 'an older version with the same table decodes');
  t.throws(() => c.decode(rawFrame(FrameKind.Message | SHARED_STRUCTURES, 'x.old', 3, 0, b, oldFp ^ 1)), { code: WireErrorCode.BAD_VERSION }, 'another table is refused');
  t.throws(() => c.decode(rawFrame(FrameKind.Message | SHARED_STRUCTURES, 'x.old', 3, 0, b)), { code: WireErrorCode.MALFORMED_FRAME }, 'flagged without a fingerprint');
  t.same(c.decode(c.encode(FrameKind.Message, old.name, 0, { a: 4 })).b, { a: 4 });

  // Peers whose schemas of a type differ: an added optional field keeps the table, anything else is refused, never misread.
  const newer = new MessageRegistry();
  newer.define({ name: 'x.shapes', version: 1, body: object({ a: uint(), note: optional(object({ z: uint() })), items: array(object({ x: uint(), y: optional(str()), w: optional(uint()) })), extra: optional(any()) }), response: object({ ok: uint(), more: optional(str()) }), samples: () => [] });
  const cn = new Codec({ registry: newer });
  t.same(cn.decode(frame).b, body, 'optional fields added without a version bump: same table');
  t.same(c.decode(cn.encode(FrameKind.Message, 'x.shapes', 0, { a: 3, items: [{ x: 1, w: 2 }] })).b, { a: 3, items: [{ x: 1, w: 2 }] }, 'and back, with the new field defined inline');
  const changed = new MessageRegistry();
  changed.define({ name: 'x.shapes', version: 1, body: object({ items: array(inner), a: uint() }), samples: () => [] });
  t.throws(() => new Codec({ registry: changed }).decode(frame), { code: WireErrorCode.BAD_VERSION }, 'reordered required fields: refused');

  // Frames are independent: any order, duplicates, gaps.
  const frames = [1, 2, 3, 4].map((n) => c.encode(FrameKind.Message, 'x.shapes', 0, n % 2 ? { a: n, items: [{ x: n }] } : { ...odd, a: n }));
  for (const i of [3, 0, 0, 2, 1, 3]) t.equal((c.decode(frames[i]!).b as { a: number }).a, i + 1);
  // Another codec (another process) decodes them too.
  t.same(new Codec({ registry: r }).decode(frame).b, body, 'a fresh codec derives the same table');
});
