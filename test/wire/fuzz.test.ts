import t from 'tap';
import { Packr } from '../../src/util/msgpack.js';
import { CLUSTER_MESSAGES } from '../../src/protocol/index.js';
import { SUPERVISOR_MESSAGES } from '../../src/worker/supervisor/messages.js';
import './fixtures/messages.js';
import { Codec, FrameKind, SHARED_STRUCTURES, errorBodySchema, rawFrame } from '../../src/wire/codec.js';
import { fingerprint, typeShapes } from '../../src/wire/structures.js';
import { WireError } from '../../src/wire/errors.js';
import { registry, type MessageType } from '../../src/wire/registry.js';

registry.add(...CLUSTER_MESSAGES, ...(SUPERVISOR_MESSAGES as MessageType[]));
import { seededRng, type Rng } from '../../src/util/rng.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5ea1);
const FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000);

/** Random msgpack-able values: valid msgpack, mostly invalid envelopes/bodies. */
function randomValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 3 ? 6 : 9)) {
    case 0: return rng.int(2 ** 31) - 2 ** 30;
    case 1: return rng.next() * 1e6;
    case 2: return rng.chance(0.5);
    case 3: return null;
    case 4: return Buffer.from(Array.from({ length: rng.int(40) }, () => rng.int(256)));
    case 5: return rng.pick(['', 'wire.ping', 'test.echo', 'raft.append', 'x'.repeat(rng.int(100))]);
    case 6: return Array.from({ length: rng.int(5) }, () => randomValue(rng, depth + 1));
    case 7: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--) o[rng.pick(['t', 'v', 'k', 'i', 'b', 'payload', 'seq', 'nodeId', '__proto__', 'constructor'])] = randomValue(rng, depth + 1);
      return o;
    }
    default:
      return [rng.int(9), 'x', rng.int(3), rng.int(100)];
  }
}

/** A frame with a plausible envelope, one field likely wrong, and a random or sample body. */
function plausibleFrame(rng: Rng, packr: Packr): Buffer {
  const mt = rng.pick(registry.all());
  const type = rng.chance(0.9) ? mt.name : rng.pick(['', 'no.such', 'x'.repeat(rng.int(80) + 1)]);
  const body = rng.chance(0.5) ? rng.pick(mt.samples()) : randomValue(rng, 1);
  // Half claim their type's static record structures (mostly with its fingerprint), whatever the body holds.
  const shared = rng.chance(0.5);
  const fp = !shared ? undefined : rng.chance(0.8) ? fingerprint(typeShapes(mt, errorBodySchema)) : rng.int(2 ** 32);
  return rawFrame(rng.int(9) | (shared ? SHARED_STRUCTURES : 0), type || 'y', rng.chance(0.8) ? mt.version : rng.int(5), rng.chance(0.5) ? 0 : rng.int(100), packr.pack(body), fp);
}

function mutate(rng: Rng, src: Buffer): Buffer {
  const b = Buffer.from(src);
  switch (rng.int(5)) {
    case 0: // bit flips
      for (let i = rng.range(1, 4); i > 0; i--) b[rng.int(b.length)]! ^= 1 << rng.int(8);
      return b;
    case 1: // truncation
      return b.subarray(0, rng.int(b.length));
    case 2: // random byte overwrite
      for (let i = rng.range(1, 8); i > 0; i--) b[rng.int(b.length)] = rng.int(256);
      return b;
    case 3: // insertion
      return Buffer.concat([b.subarray(0, rng.int(b.length)), Buffer.from([rng.int(256), rng.int(256)]), b.subarray(rng.int(b.length))]);
    default: // huge length prefixes: claim a 4 GiB array/map/bin
      return Buffer.concat([Buffer.from([rng.pick([0xdd, 0xdf, 0xc6, 0xdb]), 0xff, 0xff, 0xff, 0xff]), b.subarray(0, rng.int(b.length))]);
  }
}

t.test(`fuzz: ${FRAMES} random and mutated frames (seed ${SEED})`, async (t) => {
  const rng = seededRng(SEED);
  const codec = new Codec({ maxFrameBytes: 1 << 20 });
  const packr = new Packr({ useRecords: true });
  const valid: Buffer[] = [];
  const validBodies: unknown[] = [];
  for (const mt of registry.all()) {
    for (const s of mt.samples()) {
      valid.push(codec.encode(FrameKind.Message, mt.name, 0, s));
      validBodies.push(s);
    }
  }
  const byCode: Record<string, number> = {};
  let accepted = 0;
  let untyped = 0;
  let firstUntyped: unknown;
  // FRAMES frames reach the decoder: a value the generator cannot encode is redrawn, not skipped.
  let decoded = 0;
  for (let n = 0; decoded < FRAMES; n++) {
    let frame: Buffer;
    const r = rng.int(10);
    if (r < 3) frame = Buffer.from(Array.from({ length: rng.int(64) }, () => rng.int(256)));
    else if (r < 7) frame = mutate(rng, rng.pick(valid));
    else {
      try {
        frame = r < 8 ? packr.pack(randomValue(rng)) : plausibleFrame(rng, packr);
      } catch {
        continue; // the generator built a value msgpackr itself cannot encode (e.g. a __proto__ key)
      }
    }
    decoded++;
    try {
      const env = codec.decode(frame);
      accepted++;
      t.ok(registry.get(env.t), 'accepted frames name a registered type') || t.bailout();
    } catch (e) {
      if (e instanceof WireError) byCode[e.code] = (byCode[e.code] ?? 0) + 1;
      else {
        untyped++;
        firstUntyped ??= e;
      }
    }
    // The decoder must not be left in a bad state by garbage: a valid frame still decodes.
    if (n % 1000 === 0) {
      const i = rng.int(valid.length);
      let body: unknown;
      t.doesNotThrow(() => (body = codec.decode(valid[i]!).b), 'valid frame decodes after garbage');
      t.same(body, validBodies[i], 'to the same body (the static record structures are intact)') || t.bailout();
    }
  }
  t.equal(untyped, 0, `every rejection is a WireError${firstUntyped ? ` (first: ${String(firstUntyped)})` : ''}; replay with FUZZ_SEED=${SEED}`);
  t.equal(decoded, FRAMES, `${FRAMES} frames decoded or rejected`);
  t.comment(`accepted ${accepted}; rejected by code ${JSON.stringify(byCode)}`);
  t.ok(Object.keys(byCode).length >= 4, 'fuzzing reached several distinct error codes');
});
