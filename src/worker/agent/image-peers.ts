import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import type { Stream, Transport } from '../../wire/interface.js';
import { ImageBlob, ImageFind, type ImageBlobFrame } from '../../protocol/images.js';
import { ShoalError } from '../../util/errors.js';
import { assert } from '../../util/assert.js';
import { SingleFlight } from '../../util/single-flight.js';
import type { Logger } from '../../util/log/interface.js';
import type { ImageStore } from '../runtime/images/store.js';
import type { ImageConfig, ImageSummary } from '../runtime/images/types.js';
import { RuntimeError } from '../runtime/interface.js';
import { registryRef, writeVerified, type BlobSource, type RegistryRef } from '../runtime/images/registry.js';

/**
 * Registry blobs shared inside the cluster. For each blob, every node
 * computes the same owner: the live node with the highest rendezvous score
 * for that digest (sha256(digest, node ID)), itself included. A node that
 * needs the blob asks its owner (`image.blob`); the owner answers from its
 * cache or reads the registry once, however many nodes ask, and sends it on.
 * So a service on N nodes reads each layer from the registry once, not N
 * times, and the owners spread over the nodes (no node serves every blob).
 * If the owner cannot be reached or fails, the node reads the registry
 * itself: sharing saves reads, it is never needed for a pull to work.
 */

export interface BlobPeer {
  nodeId: string;
  /** Its cluster (TCP) address. */
  addr: string;
}

const CHUNK_BYTES = 256 * 1024;
const CONNECT_TIMEOUT_MS = 3_000;

/** The node every node asks for `digest`, among `nodes`. */
export function blobOwner(digest: string, nodes: readonly string[]): string {
  let best = '';
  let bestScore = '';
  for (const n of nodes) {
    const score = createHash('sha256').update(digest).update('\0').update(n).digest('hex');
    if (score > bestScore) [best, bestScore] = [n, score];
  }
  return best;
}

export interface PeerBlobOptions {
  transport: Transport;
  self: string;
  /** The other live nodes (gossip's view). */
  peers: () => BlobPeer[];
  store: ImageStore;
  /** This node's `docker login` for a registry, as "user:password". */
  credentials: (registry: string) => string | undefined;
  log: Logger;
}

/** A pull's BlobSource: the blob's owner first, the registry when it is this node or fails. */
export function peerBlobSource(o: PeerBlobOptions): BlobSource {
  return async (ref, digest, file) => {
    const peers = o.peers();
    const owner = blobOwner(digest, [o.self, ...peers.map((p) => p.nodeId)]);
    const peer = owner === o.self ? undefined : peers.find((p) => p.nodeId === owner);
    if (peer) {
      try {
        await fetchFromPeer(o.transport, peer, ref, digest, file);
        o.log.debug({ peer: owner, digest }, `blob ${digest.slice(0, 19)} from ${owner}`);
        return 0;
      } catch (err) {
        o.log.warn({ peer: owner, digest }, `blob ${digest.slice(0, 19)} from its owner ${owner} failed (${(err as Error).message}); reading it from ${ref.registry}`);
      }
    }
    const credentials = o.credentials(ref.registry);
    const n = await o.store.ensureBlob(ref, digest, credentials ? { credentials } : {});
    assert(file === o.store.blobFile(digest), `a pull asked for ${digest} at ${file}, not in the store's cache`);
    return n;
  };
}

/** One blob from a peer into `file`, digest-checked; `ref` lets the peer read the registry on a miss (null: its cache only). */
async function fetchFromPeer(transport: Transport, peer: BlobPeer, ref: RegistryRef | null, digest: string, file: string): Promise<void> {
  const conn = await transport.connect(peer.addr, { expectNodeId: peer.nodeId, timeoutMs: CONNECT_TIMEOUT_MS });
  try {
    const s = conn.openStream(ImageBlob, { type: 'open', ...(ref ? { registry: ref.registry, repository: ref.repository } : {}), digest }) as Stream<ImageBlobFrame>;
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for await (const f of s) if (f.type === 'data') yield f.bytes;
    }
    await writeVerified(chunks(), digest, file, `blob ${digest} from node ${peer.nodeId}`);
  } finally {
    conn.close('blob done');
  }
}

/**
 * Answers `image.blob` (from the cache, or the registry once when the asker
 * names one: ImageStore.ensureBlob; in chunks with back-pressure) and
 * `image.find` (whether this node has an image, with its layer blobs).
 */
export function serveImages(transport: Transport, store: ImageStore, credentials: (registry: string) => string | undefined, log: Logger): () => void {
  transport.onStream(ImageBlob, (stream, open) => {
    const s = stream as Stream<ImageBlobFrame>;
    const o = open as ImageBlobFrame;
    if (o.type !== 'open') return s.reset('expected an open frame');
    if (!/^sha256:[a-f0-9]{64}$/.test(o.digest)) return s.reset('expected a sha256 digest');
    let ref: RegistryRef | null = null;
    if (o.registry !== undefined || o.repository !== undefined) {
      try {
        ref = registryRef(`${o.registry}/${o.repository}@${o.digest}`);
      } catch (err) {
        return s.reset((err as Error).message);
      }
      if (!ref) return s.reset(`${o.registry} is not a registry address`);
    }
    let cancelled = false;
    s.onData(
      () => {},
      () => (cancelled = true),
    );
    void (async () => {
      if (ref) {
        const creds = credentials(ref.registry);
        await store.ensureBlob(ref, o.digest, creds ? { credentials: creds } : {});
      } else if (!existsSync(store.blobFile(o.digest))) {
        throw new RuntimeError('NOT_FOUND', `blob ${o.digest} is not on this node`);
      }
      for await (const chunk of createReadStream(store.blobFile(o.digest), { highWaterMark: CHUNK_BYTES })) {
        if (cancelled) return;
        if (!s.write({ type: 'data', bytes: chunk as Buffer })) await s.drain();
      }
      s.end();
    })().catch((err: Error) => {
      log.warn({ digest: o.digest }, `serving blob ${o.digest.slice(0, 19)}: ${err.message}`);
      s.reset(err instanceof ShoalError ? err : err.message);
    });
  });
  transport.onRequest(ImageFind, ({ name }) => {
    let img;
    try {
      img = store.shareable(name);
    } catch {
      img = null; // not an image name this store takes
    }
    return img ? { found: true, id: img.id, config: JSON.stringify(img.config), layers: img.layers } : { found: false };
  });
  return () => {
    transport.off(ImageBlob);
    transport.off(ImageFind);
  };
}

/**
 * An image no registry names (imported somewhere in the cluster): asks every
 * live peer whether it has it (`image.find`), fetches the layers this node
 * lacks from the first that does (each checked against its digest), and
 * builds the image here. Null when no peer has it. One fetch per name at a
 * time, however many tasks wait for it.
 */
export function peerImageSource(o: Omit<PeerBlobOptions, 'credentials'>): (name: string) => Promise<ImageSummary | null> {
  const inFlight = new SingleFlight<ImageSummary | null>();
  const fetchImage = async (name: string): Promise<ImageSummary | null> => {
    const answers = await Promise.all(
      o.peers().map(async (peer) => {
        try {
          const conn = await o.transport.connect(peer.addr, { expectNodeId: peer.nodeId, timeoutMs: CONNECT_TIMEOUT_MS });
          try {
            const r = await conn.request(ImageFind, { name }, { timeoutMs: CONNECT_TIMEOUT_MS });
            return r.found && r.id && r.layers && r.config !== undefined ? { peer, id: r.id, layers: r.layers, config: r.config } : null;
          } finally {
            conn.close('image.find done');
          }
        } catch {
          return null; // that peer cannot say: ask the others
        }
      }),
    );
    const from = answers.find((a) => a !== null);
    if (!from) return null;
    for (const d of from.layers) {
      const file = o.store.blobFile(d);
      if (!existsSync(file)) await fetchFromPeer(o.transport, from.peer, null, d, file);
    }
    const summary = await o.store.importShared(name, { id: from.id, config: JSON.parse(from.config) as ImageConfig, layers: from.layers });
    o.log.info({ peer: from.peer.nodeId, image: name }, `image ${name} (${from.id.slice(0, 19)}) fetched from node ${from.peer.nodeId}: ${from.layers.length} layer(s)`);
    return summary;
  };
  return (name) => inFlight.run(name, () => fetchImage(name));
}
