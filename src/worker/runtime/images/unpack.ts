import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, chownSync, createReadStream, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, utimesSync, type Stats } from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../interface.js';
import { resolveInRoot } from '../common/in-root.js';

/**
 * Tar handling through the system's GNU tar (it knows every entry type,
 * owners, xattrs, and decompresses gzip/xz/zstd by magic), plus OCI layer
 * whiteouts, which tar does not know: each ".wh.NAME" entry deletes NAME
 * from the layers below and ".wh..wh..opq" empties its directory; the
 * markers themselves are not extracted. Layers are applied so that nothing
 * outside the rootfs is ever touched (applyLayer).
 */

function run(args: string[], what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('error', (e) => reject(new RuntimeError('UNAVAILABLE', `${what}: cannot run tar: ${e.message}`)));
    p.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new RuntimeError('FAILED', `${what}: tar exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

/** Member names of a tar archive (any compression). */
export async function listTar(file: string): Promise<string[]> {
  return (await run(['-tf', file], `listing ${file}`)).split('\n').filter(Boolean);
}

const asRoot = () => process.getuid?.() === 0;

/** Extracts a whole archive into dir (owners kept when root, by number: the image's IDs, not the host's names). */
export async function extractTar(file: string, dir: string, extra: string[] = []): Promise<void> {
  const owner = asRoot() ? ['--same-owner', '--numeric-owner'] : ['--no-same-owner'];
  await run(['-xpf', file, '-C', dir, ...owner, ...extra], `extracting ${file}`);
}

/**
 * Applies one image layer on top of rootfs, honouring whiteouts, without
 * ever touching anything outside rootfs whatever the layer holds.
 *
 * The danger is in the layers below: extracted straight into rootfs, tar
 * would follow a symlink a lower layer left there (`evil -> /`) and write
 * `evil/etc/x` — or hard-link `evil/etc/shadow` — on the host. So:
 *  1. tar extracts the layer into an empty staging directory next to rootfs.
 *     Within one archive GNU tar is safe: it strips leading `/` and refuses
 *     `..` in names and hard-link targets, and creates a symlink that points
 *     up or out only at the end (a placeholder until then), so nothing
 *     reaches through one. A hard link can only name a member of the layer.
 *  2. Whiteouts delete from rootfs (the layers below), each path resolved
 *     inside rootfs (resolveInRoot).
 *  3. The staged tree is moved into rootfs entry by entry (rename: hard
 *     links stay hard links), every parent resolved inside rootfs and the
 *     entry itself never followed — the semantics Docker gets by unpacking
 *     in a chroot: a symlink below is followed as if rootfs were `/`, so
 *     `var/run -> /run` still works and `evil -> /` leads to rootfs itself.
 * A hard link to a file of a lower layer (which neither Docker's nor
 * BuildKit's layer writer produces) fails the import.
 */
export async function applyLayer(file: string, rootfs: string): Promise<void> {
  const names = await listTar(file);
  const explicitDirs = new Set<string>();
  const whiteouts: { dir: string; name: string | null }[] = [];
  for (const raw of names) {
    const name = memberPath(raw);
    if (raw.endsWith('/')) explicitDirs.add(name);
    const base = path.posix.basename(name);
    if (!base.startsWith('.wh.')) continue;
    if (name.split('/').includes('..')) throw new RuntimeError('FAILED', `layer ${file}: whiteout ${raw} escapes the root`);
    const dir = path.posix.dirname(name);
    const target = base === '.wh..wh..opq' ? null : base.slice('.wh.'.length);
    if (target === '' || target === '.' || target === '..') throw new RuntimeError('FAILED', `layer ${file}: whiteout ${raw} names no file`);
    whiteouts.push({ dir: dir === '.' ? '' : dir, name: target });
  }
  const staging = path.join(path.dirname(rootfs), `.layer-${randomBytes(6).toString('hex')}`);
  mkdirSync(staging);
  try {
    await extractTar(file, staging, ['--exclude=.wh.*']);
    for (const w of whiteouts) {
      const dir = resolveInRoot(rootfs, w.dir);
      if (dir === null) continue;
      if (w.name === null) {
        let entries: string[] = [];
        try {
          entries = readdirSync(dir);
        } catch {
          /* nothing below */
        }
        for (const e of entries) rmSync(path.join(dir, e), { recursive: true, force: true });
      } else {
        rmSync(path.join(dir, w.name), { recursive: true, force: true });
      }
    }
    mergeInto(staging, rootfs, '', rootfs, explicitDirs, file);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** A member name as a relative path: no leading `./` or `/`, no trailing `/`. */
function memberPath(raw: string): string {
  return raw.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
}

/**
 * Moves the staged entries of `src` into `dst`, a real directory inside
 * root (relative path `rel` in the layer). An entry replaces what is there,
 * except that a directory merges into a directory; a directory the layer
 * only implies (a parent it did not list) over a symlink goes where the
 * symlink leads inside root.
 */
function mergeInto(src: string, dst: string, rel: string, root: string, explicitDirs: Set<string>, file: string): void {
  for (const name of readdirSync(src)) {
    const s = path.join(src, name);
    const d = path.join(dst, name);
    const memberRel = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(s);
    const dt = lstatOrNull(d);
    if (st.isDirectory()) {
      if (dt === null) {
        renameSync(s, d);
        continue;
      }
      let into: string | null = null;
      if (dt.isDirectory()) into = d;
      else if (dt.isSymbolicLink() && !explicitDirs.has(memberRel)) {
        const target = resolveInRoot(root, path.relative(root, d));
        if (target === null) throw new RuntimeError('FAILED', `layer ${file}: ${memberRel} leads to a file, not a directory`);
        const tt = lstatOrNull(target);
        if (tt === null) {
          mkdirSync(path.dirname(target), { recursive: true });
          renameSync(s, target);
          continue;
        }
        if (!tt.isDirectory()) throw new RuntimeError('FAILED', `layer ${file}: ${memberRel} leads to a file, not a directory`);
        into = target;
      }
      if (into === null) {
        rmSync(d, { recursive: true, force: true });
        renameSync(s, d);
        continue;
      }
      mergeInto(s, into, memberRel, root, explicitDirs, file);
      // A directory the layer lists brings its own metadata; times last (the moves above changed them).
      if (explicitDirs.has(memberRel)) copyDirMetadata(st, into);
    } else {
      if (dt?.isDirectory()) rmSync(d, { recursive: true, force: true });
      // rename replaces a file or a symlink at d itself: d is never followed.
      renameSync(s, d);
    }
  }
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

function copyDirMetadata(st: Stats, dir: string): void {
  if (asRoot()) chownSync(dir, st.uid, st.gid);
  chmodSync(dir, st.mode & 0o7777);
  utimesSync(dir, st.atime, st.mtime);
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(file)) h.update(c as Buffer);
  return h.digest('hex');
}

/** Apparent size of a tree (files and symlinks; directories count nothing), without following links. */
export function treeSize(dir: string): number {
  let total = 0;
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else {
        try {
          total += lstatSync(p).size;
        } catch {
          /* raced */
        }
      }
    }
  }
  return total;
}
