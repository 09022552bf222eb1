/**
 * A minimal busybox root filesystem for the oci and docker runtime tests,
 * built from the host's busybox-static: /bin/busybox plus a symlink per
 * applet, /etc/passwd and /etc/group (root, nobody), /tmp, and the mount
 * points a container needs. Built once per machine and busybox binary (the
 * directory name carries the binary's digest) under the temp dir, published
 * by rename so concurrent test files share one copy; the tarball is
 * deterministic (sorted, fixed owners and times), so its image ID is stable.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface BusyboxRootfs {
  /** The unpacked root filesystem. */
  dir: string;
  /** The same, as an uncompressed tarball of "./…" entries. */
  tarball: string;
}

const CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];

/** The static busybox binary, or null (with the tests then skipping). */
export function busyboxBinary(): string | null {
  for (const p of CANDIDATES) {
    if (!existsSync(p)) continue;
    const file = spawnSync('file', ['-L', p], { encoding: 'utf8' }).stdout ?? '';
    if (!file || /statically linked|static-pie/.test(file)) return p;
  }
  return null;
}

let cached: BusyboxRootfs | undefined;

export function busyboxRootfs(): BusyboxRootfs {
  if (cached) return cached;
  const bin = busyboxBinary();
  if (!bin) throw new Error('busybox-static is not installed (no static /bin/busybox)');
  const digest = createHash('sha256').update(readFileSync(bin)).digest('hex').slice(0, 12);
  const base = path.join(tmpdir(), `shoal-busybox-${digest}-v1`);
  const result = { dir: path.join(base, 'rootfs'), tarball: path.join(base, 'rootfs.tar') };
  if (existsSync(path.join(base, 'done'))) return (cached = result);

  const staging = `${base}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  const root = path.join(staging, 'rootfs');
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'var/tmp', 'home']) mkdirSync(path.join(root, d), { recursive: true });
  chmodSync(path.join(root, 'tmp'), 0o1777);
  copyFileSync(bin, path.join(root, 'bin', 'busybox'));
  chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  const applets = execFileSync(bin, ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox' && !a.includes('/'));
  for (const a of applets) symlinkSync('busybox', path.join(root, 'bin', a));
  writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n');
  writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\nnogroup:x:65534:\n');
  execFileSync('tar', ['-C', root, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', path.join(staging, 'rootfs.tar'), '.']);
  writeFileSync(path.join(staging, 'done'), '');
  try {
    renameSync(staging, base);
  } catch {
    // Another test process published it first: use theirs.
    rmSync(staging, { recursive: true, force: true });
  }
  return (cached = result);
}
