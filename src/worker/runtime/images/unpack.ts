import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../interface.js';

/**
 * Tar handling through the system's GNU tar (it knows every entry type,
 * owners, xattrs, and decompresses gzip/xz/zstd by magic), plus OCI layer
 * whiteouts, which tar does not know: before a layer is extracted, each
 * ".wh.NAME" entry deletes NAME from the layers below and ".wh..wh..opq"
 * empties its directory; the markers themselves are not extracted.
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

/** Applies one image layer on top of rootfs, honouring whiteouts. */
export async function applyLayer(file: string, rootfs: string): Promise<void> {
  const names = await listTar(file);
  for (const raw of names) {
    const name = raw.replace(/^(\.\/)+/, '').replace(/\/$/, '');
    const base = path.posix.basename(name);
    if (!base.startsWith('.wh.')) continue;
    const parent = path.posix.dirname(name);
    if (name.split('/').includes('..')) throw new RuntimeError('FAILED', `layer ${file}: whiteout ${raw} escapes the root`);
    const dirAbs = path.join(rootfs, parent);
    if (base === '.wh..wh..opq') {
      let entries: string[] = [];
      try {
        entries = readdirSync(dirAbs);
      } catch {
        /* nothing below */
      }
      for (const e of entries) rmSync(path.join(dirAbs, e), { recursive: true, force: true });
    } else {
      rmSync(path.join(dirAbs, base.slice('.wh.'.length)), { recursive: true, force: true });
    }
  }
  await extractTar(file, rootfs, ['--exclude=.wh.*']);
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
