import { createHash } from 'node:crypto';
import { copyFileSync, createWriteStream, existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RuntimeError } from '../interface.js';
import { writeJsonAtomic } from '../common/atomic.js';
import { MT_INDEX, pickPlatform, type Descriptor } from './formats.js';

/**
 * Pulling from an OCI / Docker registry (distribution API v2): a reference
 * names a registry when its first component has a dot, a port or is
 * `localhost` (`127.0.0.1:5000/team/app:1.2`, `registry.local/app`), as
 * Docker reads it. The pull fetches the manifest (an index or manifest list
 * is resolved to this node's platform), then the config and layer blobs by
 * digest, each checked against its digest while it streams to disk. The
 * result is an OCI image layout, which the image store imports like any
 * other (formats.ts), so a pulled image is unpacked and verified by the same
 * code as an imported one.
 *
 * Auth: anonymous, then what the registry's 401 asks for: HTTP Basic with
 * the node's own `docker login` credentials (`$DOCKER_CONFIG/config.json` or
 * `~/.docker/config.json`, the `auths` entry for the registry), or a bearer
 * token from the registry's token service (Docker Hub, GHCR, Harbor and
 * distribution's token auth work this way), asked for with that login or
 * anonymously. Loopback registries are
 * spoken to over plain HTTP (Docker treats 127.0.0.0/8 as insecure by
 * default); every other one over HTTPS with the system's CAs.
 */

export interface RegistryRef {
  /** host[:port] */
  registry: string;
  /** e.g. team/app */
  repository: string;
  /** A tag, or a digest (sha256:…). */
  reference: string;
}

/** What a pull read from the registry. */
export interface PullStats {
  /** Bytes of manifests and blobs fetched from the registry. */
  bytesRead: number;
  /** Blobs fetched (the rest were already in the node's blob cache). */
  blobsFetched: number;
  /** The digest of the manifest pulled (this node's platform's, under an index). */
  manifestDigest: string;
}

const MT_MANIFEST = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];
const ACCEPT = [...MT_INDEX, ...MT_MANIFEST].join(', ');
/** A manifest is small; a bigger answer is not one. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Where a node gets a blob it lacks, into `file` (digest-checked): the
 * registry by default; in a cluster, the peer that every node asks for that
 * blob (worker/agent/image-peers.ts). Resolves to the bytes it read from the
 * registry itself (0 when a peer sent it).
 */
export type BlobSource = (ref: RegistryRef, digest: string, file: string) => Promise<number>;

/** The registry a reference names, or null when it names none (a local or Docker Hub name). */
export function registryRef(name: string): RegistryRef | null {
  const at = name.indexOf('@');
  const base = at >= 0 ? name.slice(0, at) : name;
  const digest = at >= 0 ? name.slice(at + 1) : undefined;
  const slash = base.indexOf('/');
  if (slash < 0) return null;
  const first = base.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return null;
  if (first === 'docker.io' || first === 'index.docker.io') return null;
  let repository = base.slice(slash + 1);
  let tag = 'latest';
  const colon = repository.lastIndexOf(':');
  if (colon > repository.lastIndexOf('/')) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
  }
  if (!/^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*$/.test(repository)) throw new RuntimeError('INVALID_SPEC', `invalid repository in image ${JSON.stringify(name)}`);
  if (digest !== undefined && !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new RuntimeError('INVALID_SPEC', `invalid digest in image ${JSON.stringify(name)}: use sha256:<64 hex>`);
  return { registry: first, repository, reference: digest ?? tag };
}

function isLoopback(registry: string): boolean {
  const host = registry.startsWith('[') ? registry.slice(1, registry.indexOf(']')) : registry.replace(/:\d+$/, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The node's `docker login` for a registry: "user:password", or undefined. */
export function nodeCredentials(registry: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = path.join(env.DOCKER_CONFIG ?? path.join(env.HOME ?? os.homedir(), '.docker'), 'config.json');
  try {
    const cfg = JSON.parse(readFileSync(file, 'utf8')) as { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
    const a = cfg.auths?.[registry] ?? cfg.auths?.[`https://${registry}`] ?? cfg.auths?.[`http://${registry}`];
    if (!a) return undefined;
    if (a.auth) return Buffer.from(a.auth, 'base64').toString('utf8');
    if (a.username !== undefined && a.password !== undefined) return `${a.username}:${a.password}`;
  } catch {
    // no config, or not JSON: no credentials
  }
  return undefined;
}

/**
 * Pulls `ref` into `layout` (an OCI image layout written there), taking
 * blobs from and adding them to `blobCache` (blobs/sha256/<hex>, shared by
 * every pull on this node).
 */
export async function pullToLayout(ref: RegistryRef, layout: string, blobCache: string, opts: { credentials?: string; signal?: AbortSignal; source?: BlobSource } = {}): Promise<PullStats> {
  const client = new RegistryClient(ref, opts.credentials, opts.signal);
  const stats: PullStats = { bytesRead: 0, blobsFetched: 0, manifestDigest: '' };
  mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  const keep = (f: Fetched) => writeBlob(layout, f.digest, f.bytes);
  let m = await client.manifest(ref.reference, stats);
  for (let depth = 0; MT_INDEX.includes(m.mediaType); depth++) {
    if (depth > 4) throw new RuntimeError('FAILED', `${describe(ref)}: image indexes nested too deep`);
    const idx = parseJson<{ manifests?: Descriptor[] }>(m.bytes, `${describe(ref)}: image index`);
    const desc = pickPlatform(idx.manifests ?? [], describe(ref));
    keep(m);
    m = await client.manifest(desc.digest, stats);
  }
  if (!MT_MANIFEST.includes(m.mediaType)) throw new RuntimeError('FAILED', `${describe(ref)}: unsupported manifest type ${m.mediaType} (Shoal reads OCI and Docker v2 schema 2 manifests)`);
  keep(m);
  const manifest = parseJson<{ config?: Descriptor; layers?: Descriptor[] }>(m.bytes, `${describe(ref)}: manifest`);
  if (!manifest.config) throw new RuntimeError('FAILED', `${describe(ref)}: manifest ${m.digest} has no config`);
  for (const d of [manifest.config, ...(manifest.layers ?? [])]) {
    const cached = path.join(blobCache, 'sha256', hexOf(d.digest, ref));
    if (!existsSync(cached)) {
      stats.bytesRead += opts.source ? await opts.source(ref, d.digest, cached) : await client.blob(d.digest, cached);
      stats.blobsFetched++;
    }
    linkBlob(cached, layout, d.digest);
  }
  stats.manifestDigest = m.digest;
  // A scratch layout, read once by the import: no fsync needed.
  writeJsonAtomic(path.join(layout, 'oci-layout'), { imageLayoutVersion: '1.0.0' }, false);
  writeJsonAtomic(path.join(layout, 'index.json'), { schemaVersion: 2, manifests: [{ mediaType: m.mediaType, digest: m.digest, size: m.bytes.length }] }, false);
  return stats;
}

function describe(ref: RegistryRef): string {
  return `${ref.registry}/${ref.repository}${ref.reference.startsWith('sha256:') ? '@' : ':'}${ref.reference}`;
}

function hexOf(digest: string, ref: RegistryRef): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(digest);
  if (!m) throw new RuntimeError('FAILED', `${describe(ref)}: unsupported digest ${JSON.stringify(digest)} (sha256 only)`);
  return m[1]!;
}

function parseJson<T>(bytes: Buffer, what: string): T {
  try {
    return JSON.parse(bytes.toString('utf8')) as T;
  } catch (err) {
    throw new RuntimeError('FAILED', `${what} is not JSON: ${(err as Error).message}`);
  }
}

/** A manifest or index (already verified against its digest) into the layout's blobs. */
function writeBlob(layout: string, digest: string, bytes: Buffer): void {
  const file = path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
  if (!existsSync(file)) writeFileSync(file, bytes);
}

/** A cached blob into the layout: a hard link (same filesystem, the store's root), else a copy. */
function linkBlob(cached: string, layout: string, digest: string): void {
  const dest = path.join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
  if (existsSync(dest)) return;
  try {
    linkSync(cached, dest);
  } catch {
    copyFileSync(cached, dest);
  }
}

/** Fetches one blob from the registry into `file`; the bytes read. */
export function fetchBlob(ref: RegistryRef, digest: string, file: string, opts: { credentials?: string; signal?: AbortSignal } = {}): Promise<number> {
  return new RegistryClient(ref, opts.credentials, opts.signal).blob(digest, file);
}

/**
 * Writes a stream of bytes to `file`, hashing on the way: the file appears
 * (by rename) only when the bytes match `digest`, so a cache never holds a
 * blob that is not what its name says. The bytes written.
 */
export async function writeVerified(source: AsyncIterable<Uint8Array>, digest: string, file: string, what: string): Promise<number> {
  mkdirSync(path.dirname(file), { recursive: true });
  const part = `${file}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.part`;
  const hash = createHash('sha256');
  let n = 0;
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const c of source) {
      hash.update(c);
      n += c.length;
      yield c;
    }
  }
  try {
    await pipeline(counted(), createWriteStream(part));
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== digest) throw new RuntimeError('FAILED', `${what} does not match its digest (got ${got}, ${n} bytes)`);
    renameSync(part, file);
    return n;
  } finally {
    rmSync(part, { force: true });
  }
}

interface Fetched {
  mediaType: string;
  digest: string;
  bytes: Buffer;
}

class RegistryClient {
  private authHeader: string | undefined;
  private readonly base: string;

  constructor(
    private readonly ref: RegistryRef,
    private readonly credentials: string | undefined,
    private readonly signal: AbortSignal | undefined,
  ) {
    this.base = `${isLoopback(ref.registry) ? 'http' : 'https'}://${ref.registry}/v2/${ref.repository}`;
  }

  async manifest(reference: string, stats: PullStats): Promise<Fetched> {
    const res = await this.get(`/manifests/${reference}`, { accept: ACCEPT });
    const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `${describe(this.ref)}: manifest`);
    stats.bytesRead += bytes.length;
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (reference.startsWith('sha256:') && reference !== digest) throw new RuntimeError('FAILED', `${describe(this.ref)}: manifest ${reference} does not match its digest (got ${digest})`);
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const mediaType = (parseJson<{ mediaType?: string }>(bytes, `${describe(this.ref)}: manifest`).mediaType ?? type) || type;
    return { mediaType, digest, bytes };
  }

  /** Streams a blob to `file` (writeVerified); the bytes read. */
  async blob(digest: string, file: string): Promise<number> {
    const res = await this.get(`/blobs/${digest}`, {});
    if (!res.body) throw new RuntimeError('FAILED', `${describe(this.ref)}: blob ${digest} came without a body`);
    return writeVerified(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), digest, file, `${describe(this.ref)}: blob ${digest}`);
  }

  private async get(p: string, headers: Record<string, string>): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      let res: Response;
      try {
        res = await fetch(`${this.base}${p}`, {
          headers: { ...headers, ...(this.authHeader ? { authorization: this.authHeader } : {}) },
          signal: this.signal ? AbortSignal.any([this.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) : AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (err) {
        const cause = (err as { cause?: Error }).cause;
        throw new RuntimeError('UNAVAILABLE', `cannot reach registry ${this.ref.registry} for ${describe(this.ref)}: ${cause?.message ?? (err as Error).message}`);
      }
      if (res.status === 401 && attempt === 0) {
        await res.body?.cancel();
        this.authHeader = await this.authFor(res.headers.get('www-authenticate') ?? '');
        continue;
      }
      if (res.ok) return res;
      await res.body?.cancel();
      if (res.status === 401 || res.status === 403) {
        throw new RuntimeError('FAILED', `registry ${this.ref.registry} refused ${describe(this.ref)} (${res.status})${this.credentials ? ': the node’s credentials for it were not accepted' : `: log in on this node with \`docker login ${this.ref.registry}\``}`);
      }
      if (res.status === 404) throw new RuntimeError('IMAGE_NOT_FOUND', `image ${describe(this.ref)} is not in registry ${this.ref.registry}`);
      throw new RuntimeError('UNAVAILABLE', `registry ${this.ref.registry} answered ${res.status} for ${describe(this.ref)}`);
    }
  }

  /** The Authorization header a 401's challenge asks for: Basic with the node's login, or a bearer token from the realm. */
  private async authFor(challenge: string): Promise<string> {
    const scheme = challenge.split(' ')[0]?.toLowerCase();
    if (scheme === 'basic') {
      if (!this.credentials) throw new RuntimeError('FAILED', `registry ${this.ref.registry} needs credentials for ${describe(this.ref)}: log in on this node with \`docker login ${this.ref.registry}\``);
      return `Basic ${Buffer.from(this.credentials).toString('base64')}`;
    }
    if (scheme === 'bearer') return `Bearer ${await this.token(challengeParams(challenge))}`;
    throw new RuntimeError('FAILED', `registry ${this.ref.registry} asks for ${scheme || 'an unknown'} authentication, which Shoal's puller does not speak (it speaks anonymous, Basic and bearer tokens)`);
  }

  /**
   * The token flow of Docker's registries (distribution's token auth):
   * GET realm?service=…&scope=repository:NAME:pull, with the node's login as
   * Basic auth when it has one (anonymous otherwise), answers {token} or
   * {access_token}.
   */
  private async token(p: Record<string, string>): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(p.realm ?? '');
    } catch {
      throw new RuntimeError('FAILED', `registry ${this.ref.registry} gave no usable token realm (${JSON.stringify(p.realm ?? '')})`);
    }
    if (realm.protocol !== 'https:' && !(realm.protocol === 'http:' && isLoopback(realm.host))) throw new RuntimeError('FAILED', `registry ${this.ref.registry}'s token realm ${realm.origin} is not HTTPS; refusing to send credentials there`);
    if (p.service) realm.searchParams.set('service', p.service);
    realm.searchParams.set('scope', p.scope ?? `repository:${this.ref.repository}:pull`);
    let res: Response;
    try {
      res = await fetch(realm, {
        headers: this.credentials ? { authorization: `Basic ${Buffer.from(this.credentials).toString('base64')}` } : {},
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      throw new RuntimeError('UNAVAILABLE', `cannot reach the token service ${realm.origin} of registry ${this.ref.registry}: ${(err as { cause?: Error }).cause?.message ?? (err as Error).message}`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      throw new RuntimeError('FAILED', `the token service of registry ${this.ref.registry} refused ${describe(this.ref)} (${res.status})${this.credentials ? ': the node’s credentials for it were not accepted' : `: log in on this node with \`docker login ${this.ref.registry}\``}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new RuntimeError('UNAVAILABLE', `the token service of registry ${this.ref.registry} answered ${res.status}`);
    }
    const body = parseJson<{ token?: string; access_token?: string }>(await readLimited(res, 64 * 1024, 'a token response'), `the token service of ${this.ref.registry}'s answer`);
    const token = body.token ?? body.access_token;
    if (!token) throw new RuntimeError('FAILED', `the token service of registry ${this.ref.registry} answered no token`);
    return token;
  }
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
export function challengeParams(challenge: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of challenge.slice(challenge.indexOf(' ') + 1).matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) out[m[1]!.toLowerCase()] = m[2]!;
  return out;
}

async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const len = Number(res.headers.get('content-length') ?? 0);
  if (len > limit) throw new RuntimeError('FAILED', `${what} is ${len} bytes, more than a manifest can be (${limit})`);
  const buf = Buffer.from(await res.arrayBuffer());
  if (buf.length > limit) throw new RuntimeError('FAILED', `${what} is ${buf.length} bytes, more than a manifest can be (${limit})`);
  return buf;
}
