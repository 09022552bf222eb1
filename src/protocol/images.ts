import { defineMessage } from '../wire/registry.js';
import { array, bool, bytes, literal, object, optional, str, tagged } from '../wire/schema.js';

/**
 * `image.blob`: a node asks a peer for one blob of a registry image (a
 * layer or config, by digest). The peer answers from its blob cache, or
 * fetches it from the registry first (once, however many ask), then sends
 * it in chunks and ends the stream; a failure resets the stream with the
 * error. The asker checks the digest before it keeps anything. This is how
 * the registry is read once per blob per cluster: every node asks the same
 * peer for a given blob (rendezvous hashing over the live nodes).
 */
export const ImageBlob = defineMessage({
  name: 'image.blob',
  version: 1,
  body: tagged('type', {
    open: object({
      type: literal('open'),
      /** The registry and repository to read it from on a miss; absent: from the cache only (an imported image's layer). */
      registry: optional(str({ min: 1, max: 256 })),
      repository: optional(str({ min: 1, max: 256 })),
      digest: str({ min: 71, max: 71 }),
    }),
    data: object({ type: literal('data'), bytes: bytes({ max: 1 << 20 }) }),
  }),
  samples: () => [
    { type: 'open' as const, registry: '127.0.0.1:5000', repository: 'team/app', digest: `sha256:${'a'.repeat(64)}` },
    { type: 'data' as const, bytes: new Uint8Array([1, 2, 3]) },
  ],
});

export type ImageBlobFrame = { type: 'open'; registry?: string; repository?: string; digest: string } | { type: 'data'; bytes: Uint8Array };

/**
 * `image.find`: does this node have the image NAME (imported, pulled or
 * fetched), with every layer blob kept? The answer lets the asker fetch
 * the layers (`image.blob`, by digest) and build the same image: how an
 * image imported on one node becomes available to all of them.
 */
export const ImageFind = defineMessage({
  name: 'image.find',
  version: 1,
  body: object({ name: str({ min: 1, max: 512 }) }),
  response: object({
    found: bool(),
    id: optional(str({ min: 71, max: 71 })),
    /** The image config (Entrypoint, Cmd, Env, …) as JSON. */
    config: optional(str({ max: 64 * 1024 })),
    layers: optional(array(str({ min: 71, max: 71 }), { max: 256 })),
  }),
  samples: () => [{ name: 'busybox:latest' }],
  responseSamples: () => [{ found: false }, { found: true, id: `sha256:${'a'.repeat(64)}`, config: '{"Cmd":["sh"]}', layers: [`sha256:${'b'.repeat(64)}`] }],
});
