/**
 * A filesystem whose new inodes cost more the more inodes were deleted in
 * the last minute, and the wait that takes that out of a measurement.
 *
 * ext4 without a journal (this project's test VMs have one as their root
 * filesystem) does not reuse an inode deleted less than 60 s ago (300 s while
 * its inode table block is still dirty): the kernel's find_inode_bit() skips
 * each one after looking its block up in the buffer cache
 * (recently_deleted(), checked only when s_journal is NULL). So every new
 * file or directory scans past the recent deletions of its block group. A
 * journaled ext4, xfs or tmpfs has no such check.
 *
 * Measured with `perf record -a` over a 100-task oci start right after a
 * phase that removed tasks: a third of all busy CPU of the machine was that
 * scan (find_get_block_common, recently_deleted, ext4_get_group_desc,
 * find_inode_bit), in the node daemon, the task forker and the runtime alike;
 * the same start took 1.6 s on a settled filesystem and 3.1 s right after
 * 6,300 files were deleted. A benchmark whose phases each remove what they
 * made would measure the previous phase's deletions: so before each timed
 * start it waits until the last deletion is DELETION_WINDOW_MS old.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';

/**
 * recently_deleted() holds an inode back 60 s after its deletion while its
 * inode table block is clean, 300 s while dirty; writeback cleans a block
 * within dirty_expire (30 s) plus one writeback period (5 s). So 70 s after
 * the last deletion no inode it freed is held back.
 */
export const DELETION_WINDOW_MS = 70_000;

/** Why inode creation on `dir`'s filesystem depends on recent deletions, or null when it does not (or cannot be told). */
export function deletionPenalty(dir: string): string | null {
  let name: string | undefined;
  try {
    // The block device `dir` lives on, by its st_dev (Linux's dev_t: minor in bits 0-7 and 20-31, major in 8-19).
    const dev = statSync(dir).dev;
    const major = (dev >> 8) & 0xfff;
    const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    name = /^DEVNAME=(.+)$/m.exec(readFileSync(`/sys/dev/block/${major}:${minor}/uevent`, 'utf8'))?.[1];
  } catch {
    return null; // not on a block device (tmpfs, overlay), or not Linux
  }
  // ext4 lists each device it has mounted under /proc/fs/ext4; jbd2 each journal as <device>-<journal inode>.
  const proc = name?.replace(/\//g, '!');
  if (!proc || !existsSync(`/proc/fs/ext4/${proc}`)) return null;
  const journaled = existsSync('/proc/fs/jbd2') && readdirSync('/proc/fs/jbd2').some((j) => j.startsWith(`${proc}-`));
  return journaled ? null : `${dir} is on ext4 without a journal (${name}): a new inode skips every inode deleted in the last 60 s`;
}

/**
 * The bench's deletions and the waits after them. `deleted()` after anything
 * that removed files (a phase's service, a floor's bundles), `settle()` before
 * anything timed, or `timed()` around both. On a filesystem without the
 * penalty they are no-ops.
 */
export class FsSettle {
  private lastDeletion = 0;

  constructor(
    readonly why: string | null,
    private readonly progress: (msg: string) => void,
  ) {}

  deleted(): void {
    this.lastDeletion = Date.now();
  }

  async settle(): Promise<void> {
    if (!this.why) return;
    const wait = this.lastDeletion + DELETION_WINDOW_MS - Date.now();
    if (wait <= 0) return;
    this.progress(`  waiting ${Math.ceil(wait / 1000)} s before timing: ${this.why}`);
    await new Promise((r) => setTimeout(r, wait));
  }

  /** `start` timed on a settled filesystem; what it made and removed counts as a deletion after it. */
  async timed<T>(start: () => Promise<T>): Promise<T> {
    await this.settle();
    try {
      return await start();
    } finally {
      this.deleted();
    }
  }
}
