import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { capture } from '../common/capture.js';
import path from 'node:path';
import { RuntimeError } from '../interface.js';

/**
 * A task's root filesystem: an overlay mount with the image's rootfs as the
 * read-only lower layer and the task's own upper/work dirs, so tasks share
 * the image's files and each writes only its differences (Docker's overlay2
 * in one layer). Where overlay is unavailable (not root, odd paths, a kernel
 * without it), a full copy instead. Mounted in create(), unmounted in remove().
 * The mount helpers run asynchronously: a node creating hundreds of
 * containers must keep answering its peers meanwhile. In the node daemon
 * they go to its C forker, which does exactly these mount and umount argvs
 * by their system call instead of exec'ing util-linux (forker.c,
 * native_command); elsewhere mount(8) and umount(8) run.
 */
export type RootfsMode = 'overlay' | 'copy';

export async function setupRootfs(imageRootfs: string, taskDir: string, preferOverlay: boolean): Promise<{ mode: RootfsMode; path: string; note?: string }> {
  const target = path.join(taskDir, 'bundle', 'rootfs');
  mkdirSync(target, { recursive: true });
  let note: string | undefined;
  if (preferOverlay && process.getuid?.() === 0) {
    const upper = path.join(taskDir, 'rootfs-upper');
    const work = path.join(taskDir, 'rootfs-work');
    if ([imageRootfs, upper, work].some((p) => /[,:\\]/.test(p))) note = 'overlay not used: a path contains , : or \\';
    else {
      mkdirSync(upper, { recursive: true });
      mkdirSync(work, { recursive: true });
      const r = await capture(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${imageRootfs},upperdir=${upper},workdir=${work}`, target], { timeoutMs: 30_000, lane: 'mounts' });
      if (r.exitCode === 0) return { mode: 'overlay', path: target };
      note = `overlay mount failed (${r.output.trim() || r.error}); copied the image rootfs instead`;
    }
  }
  const r = await capture(['cp', '-a', `${imageRootfs}/.`, `${target}/`], { timeoutMs: 300_000, lane: 'copies' });
  if (r.exitCode !== 0) throw new RuntimeError('FAILED', `copying the image rootfs into ${target}: ${r.output.trim() || r.error}`);
  return { mode: 'copy', path: target, ...(note ? { note } : {}) };
}

/**
 * Whether something is mounted on `p`: a mount point's device differs from
 * its parent directory's (what mountpoint(1) checks). O(1), where reading
 * /proc/self/mountinfo grows with every task's mount: at 300 tasks that
 * read, once per teardown, cost the daemon 3 s.
 */
export function isMounted(p: string): boolean {
  try {
    return statSync(p).dev !== statSync(path.dirname(p)).dev;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    // Unreadable (a dead mount answers ENOTCONN, EIO): ask the mount table.
    try {
      return readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .some((l) => l.split(' ')[4] === p);
    } catch {
      return false;
    }
  }
}

/** Unmounts (lazily if something still holds it) and deletes the task's rootfs. */
export async function teardownRootfs(taskDir: string): Promise<void> {
  const target = path.join(taskDir, 'bundle', 'rootfs');
  for (let i = 0; i < 3 && isMounted(target); i++) {
    const r = await capture(['umount', target], { timeoutMs: 30_000, lane: 'mounts' });
    if (r.exitCode !== 0 && i === 2) await capture(['umount', '-l', target], { timeoutMs: 30_000, lane: 'mounts' });
  }
  if (isMounted(target)) throw new RuntimeError('FAILED', `cannot unmount ${target}`);
  for (const d of ['bundle', 'rootfs-upper', 'rootfs-work']) await rm(path.join(taskDir, d), { recursive: true, force: true });
}
