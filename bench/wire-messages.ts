import { defineMessage } from '../src/wire/registry.js';
import { bytes, object } from '../src/wire/schema.js';

/** The benchmark's request/response type: an opaque payload echoed back. */
export const BenchEcho = defineMessage({
  name: 'bench.echo',
  version: 1,
  body: object({ payload: bytes() }),
  response: object({ payload: bytes() }),
  samples: () => [{ payload: Buffer.alloc(1024) }],
  responseSamples: () => [{ payload: Buffer.alloc(1024) }],
});
