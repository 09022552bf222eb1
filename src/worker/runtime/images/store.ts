import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../interface.js';
import { readJson, writeJsonAtomic } from '../common/atomic.js';
import { isDockerArchive, isOciLayout, readDockerArchive, readOciLayout, type LayeredImage } from './formats.js';
import { normalizeImageName } from './names.js';
import { SingleFlight } from '../../../util/single-flight.js';
import { fetchBlob, pullToLayout, registryRef, type BlobSource, type PullStats, type RegistryRef } from './registry.js';
import type { ImageConfig, ImageRecord, ImageSource, ImageSummary, ResolvedImage, ShareableImage } from './types.js';
import { applyLayer, extractTar, listTar, sha256File, treeSize } from './unpack.js';

/** A pull's image and what it read from the registry. */
export interface PullResult extends PullStats {
  image: ImageSummary;
}

/**
 * The node-local image store the oci runtime runs from: images arrive with
 * `shoal image import NAME FILE`, or are pulled from the registry a task's
 * image names (registry.ts).
 *
 *   <root>/images/<hex>/rootfs/      the unpacked root filesystem (layers already applied)
 *   <root>/images/<hex>/image.json   ImageRecord: id, config (Entrypoint/Cmd/Env/WorkingDir/User), size, created
 *   <root>/refs/<urlencoded name>    {"name","id"}: one file per tag, replaced atomically
 *   <root>/tmp/                      imports in progress (renamed into images/ when complete)
 *   <root>/blobs/sha256/<hex>        blobs pulled from registries (registry.ts), kept for later pulls
 *
 * Content is keyed by ID, so re-importing the same bytes only re-tags, and a
 * tag moved to new content leaves the old rootfs in place for tasks still
 * running on it. Imports build under tmp/ and appear by rename: a reader sees
 * a complete image or none.
 */
export class ImageStore {
  /** Pulls in flight, by reference: tasks that need one image at once share its pull. */
  private readonly pulls = new SingleFlight<PullResult>();
  /** Registry blob fetches in flight, by digest: a peer's requests and local pulls share them. */
  private readonly blobFetches = new SingleFlight<number>();
  private static readonly open = new Map<string, ImageStore>();

  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** The process's one store for `root`, so pulls and blob fetches are shared by all who use it. */
  static at(root: string): ImageStore {
    const key = path.resolve(root);
    let s = ImageStore.open.get(key);
    if (!s) ImageStore.open.set(key, (s = new ImageStore(key)));
    return s;
  }

  /** Where a registry blob is cached on this node (present or not). */
  blobFile(digest: string): string {
    return this.dir('blobs', 'sha256', hex(digest));
  }

  /**
   * A registry blob in this node's cache: there already, or fetched from the
   * registry now (one fetch per digest however many ask). The bytes read
   * from the registry (0 when it was here).
   */
  ensureBlob(ref: RegistryRef, digest: string, opts: { credentials?: string; signal?: AbortSignal } = {}): Promise<number> {
    const file = this.blobFile(digest);
    if (existsSync(file)) return Promise.resolve(0);
    return this.blobFetches.run(digest, () => fetchBlob(ref, digest, file, opts));
  }

  /**
   * Pulls NAME from the registry it names (registry.ts) and tags it, unless
   * it is here already. Concurrent pulls of one name are one pull.
   */
  pull(name: string, opts: { credentials?: string; signal?: AbortSignal; source?: BlobSource } = {}): Promise<PullResult> {
    const ref = registryRef(name);
    if (!ref) throw new RuntimeError('INVALID_SPEC', `${name} names no registry: a pull needs HOST[:PORT]/NAME[:TAG]`);
    const key = normalizeImageName(name);
    return this.pulls.run(key, () => this.pullOnce(key, ref, opts));
  }

  private async pullOnce(key: string, ref: RegistryRef, opts: { credentials?: string; signal?: AbortSignal; source?: BlobSource }): Promise<PullResult> {
    const work = this.workDir();
    const layout = path.join(work, 'layout');
    mkdirSync(layout);
    try {
      // Without a cluster's source, blobs come from the registry through this store's shared fetches.
      const source: BlobSource = opts.source ?? ((r, digest) => this.ensureBlob(r, digest, opts));
      const stats = await pullToLayout(ref, layout, this.dir('blobs'), { ...opts, source });
      const id = await this.importLayered(work, await readOciLayout(layout), 'registry');
      writeJsonAtomic(this.refFile(key), { name: key, id, digest: stats.manifestDigest });
      return { image: this.summary(key, id)!, ...stats };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  private dir(...p: string[]): string {
    return path.join(this.root, ...p);
  }

  /** A fresh directory under tmp/ for one import or pull (its result appears in images/ by rename). */
  private workDir(): string {
    mkdirSync(this.dir('images'), { recursive: true });
    const work = this.dir('tmp', `${Date.now()}-${randomBytes(6).toString('hex')}`);
    mkdirSync(work, { recursive: true });
    return work;
  }

  /** Imports FILE (rootfs tarball, OCI layout dir or archive, docker-save archive) as NAME. */
  async import(name: string, file: string): Promise<ImageSummary> {
    const ref = normalizeImageName(name);
    let st;
    try {
      st = statSync(file);
    } catch {
      throw new RuntimeError('NOT_FOUND', `cannot import ${file}: no such file or directory`);
    }
    const work = this.workDir();
    try {
      let id: string;
      if (st.isDirectory()) {
        if (!isOciLayout(file)) throw new RuntimeError('INVALID_SPEC', `${file} is a directory but not an OCI image layout (no oci-layout and index.json)`);
        id = await this.importLayered(work, await readOciLayout(file), 'oci-layout');
      } else {
        const members = new Set((await listTar(file)).map((m) => m.replace(/^\.\//, '')));
        if (members.has('oci-layout') && members.has('index.json')) {
          const layout = path.join(work, 'layout');
          mkdirSync(layout);
          await extractTar(file, layout);
          id = await this.importLayered(work, await readOciLayout(layout), 'oci-layout');
        } else if (members.has('manifest.json') && !members.has('bin/sh')) {
          const archive = path.join(work, 'archive');
          mkdirSync(archive);
          await extractTar(file, archive);
          if (!isDockerArchive(archive)) throw new RuntimeError('INVALID_SPEC', `${file}: not a docker archive`);
          id = await this.importLayered(work, await readDockerArchive(archive), 'docker-archive');
        } else {
          id = await this.importRootfs(work, file);
        }
      }
      writeJsonAtomic(this.refFile(ref), { name: ref, id });
      return this.summary(ref, id)!;
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  /** A plain root filesystem tarball: its digest is its ID; it runs `sh` unless told otherwise. */
  private async importRootfs(work: string, file: string): Promise<string> {
    const id = `sha256:${await sha256File(file)}`;
    if (this.record(id)) return id;
    const staged = path.join(work, 'image');
    mkdirSync(path.join(staged, 'rootfs'), { recursive: true });
    await extractTar(file, path.join(staged, 'rootfs'));
    this.publish(staged, id, { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] }, 'tarball', [await this.keepBlob(file, id)]);
    return id;
  }

  private async importLayered(work: string, img: LayeredImage, source: ImageSource): Promise<string> {
    if (this.record(img.id)) return img.id;
    const staged = path.join(work, 'image');
    mkdirSync(path.join(staged, 'rootfs'), { recursive: true });
    const layers: string[] = [];
    for (const layer of img.layers) {
      await applyLayer(layer, path.join(staged, 'rootfs'));
      layers.push(await this.keepBlob(layer));
    }
    this.publish(staged, img.id, pickConfig(img.config), source, layers);
    return img.id;
  }

  /**
   * Keeps a layer file in the blob cache, so other nodes can fetch it by digest; its digest. A file already
   * named by its digest (an OCI layout's blob, verified when read) is not
   * hashed again.
   */
  private async keepBlob(file: string, known?: string): Promise<string> {
    const named = /(?:^|\/)sha256\/([a-f0-9]{64})$/.exec(file)?.[1];
    const digest = known ?? (named ? `sha256:${named}` : `sha256:${await sha256File(file)}`);
    const dest = this.blobFile(digest);
    if (!existsSync(dest)) {
      mkdirSync(path.dirname(dest), { recursive: true });
      const tmp = `${dest}.${randomBytes(4).toString('hex')}.part`;
      // A link only to files of our own (an archive unpacked under tmp/): a user's file shares its inode, and may change.
      let linked = false;
      if (path.resolve(file).startsWith(this.root + path.sep)) {
        try {
          linkSync(file, tmp);
          linked = true;
        } catch {
          // another filesystem: copy
        }
      }
      if (!linked) copyFileSync(file, tmp);
      renameSync(tmp, dest);
    }
    return digest;
  }

  /** The ID, config and layer blobs of NAME, when this node has all of them (for a peer to fetch). */
  shareable(name: string): ShareableImage | null {
    const img = this.resolve(name);
    if (!img?.layers?.length || !img.layers.every((d) => existsSync(this.blobFile(d)))) return null;
    return { id: img.id, config: img.config, layers: img.layers };
  }

  /**
   * Builds NAME from blobs already in the cache (fetched from a peer, each
   * checked against its digest) and tags it. The ID and config are the
   * peer's: a node of this cluster, over its mutual TLS.
   */
  async importShared(name: string, img: ShareableImage): Promise<ImageSummary> {
    const ref = normalizeImageName(name);
    hex(img.id);
    for (const d of img.layers) if (!existsSync(this.blobFile(d))) throw new RuntimeError('FAILED', `image ${ref}: blob ${d} is not in the cache`);
    if (!this.record(img.id)) {
      const work = this.workDir();
      const staged = path.join(work, 'image');
      mkdirSync(path.join(staged, 'rootfs'), { recursive: true });
      try {
        for (const d of img.layers) await applyLayer(this.blobFile(d), path.join(staged, 'rootfs'));
        this.publish(staged, img.id, pickConfig(img.config), 'peer', img.layers);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    }
    writeJsonAtomic(this.refFile(ref), { name: ref, id: img.id });
    return this.summary(ref, img.id)!;
  }

  /** Moves a complete staged image into images/<hex>; a concurrent import of the same ID may win, which is fine. */
  private publish(staged: string, id: string, config: ImageConfig, source: ImageSource, layers: string[]): void {
    const rec: ImageRecord = { id, config, size: treeSize(path.join(staged, 'rootfs')), created: new Date().toISOString(), source, layers };
    writeJsonAtomic(path.join(staged, 'image.json'), rec);
    try {
      renameSync(staged, this.dir('images', hex(id)));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  }

  private refFile(ref: string): string {
    mkdirSync(this.dir('refs'), { recursive: true });
    return this.dir('refs', encodeURIComponent(ref));
  }

  private record(id: string): ImageRecord | undefined {
    return readJson<ImageRecord>(this.dir('images', hex(id), 'image.json'));
  }

  private summary(name: string, id: string): ImageSummary | null {
    const r = this.record(id);
    return r ? { name, id, size: r.size, created: r.created } : null;
  }

  /** Every tag, sorted by name. */
  list(): ImageSummary[] {
    let files: string[] = [];
    try {
      files = readdirSync(this.dir('refs'));
    } catch {
      return [];
    }
    const out: ImageSummary[] = [];
    for (const f of files) {
      if (f.endsWith('.tmp')) continue;
      const ref = readJson<{ name: string; id: string }>(this.dir('refs', f));
      const s = ref && this.summary(ref.name, ref.id);
      if (s) out.push(s);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The image a task names (tag, or "sha256:<id>"), or null when this node does not have it. */
  resolve(name: string): ResolvedImage | null {
    let id: string | undefined;
    let ref = name;
    if (/^sha256:[a-f0-9]{64}$/.test(name)) id = name;
    else {
      ref = normalizeImageName(name);
      const tag = readJson<{ id: string; digest?: string }>(this.dir('refs', encodeURIComponent(ref)));
      // A pulled tag knows its manifest digest: a task pinned to another one needs that one (a pull).
      // An imported tag has none, so a pinned name (as Swarm writes them) runs what was imported.
      const pinned = /@(sha256:[a-f0-9]{64})$/.exec(name)?.[1];
      if (tag?.digest && pinned && pinned !== tag.digest) return null;
      id = tag?.id;
    }
    if (!id) return null;
    const rec = this.record(id);
    const rootfs = this.dir('images', hex(id), 'rootfs');
    if (!rec || !existsSync(rootfs)) return null;
    return { ...rec, name: ref, rootfs };
  }
}

function hex(id: string): string {
  const m = /^sha256:([a-f0-9]{64})$/.exec(id);
  if (!m) throw new RuntimeError('FAILED', `bad image ID ${id}`);
  return m[1]!;
}

function pickConfig(c: ImageConfig): ImageConfig {
  const out: ImageConfig = {};
  if (c.Entrypoint?.length) out.Entrypoint = c.Entrypoint;
  if (c.Cmd?.length) out.Cmd = c.Cmd;
  if (c.Env?.length) out.Env = c.Env;
  if (c.WorkingDir) out.WorkingDir = c.WorkingDir;
  if (c.User) out.User = c.User;
  if (c.Healthcheck?.Test?.length) out.Healthcheck = c.Healthcheck;
  return out;
}
