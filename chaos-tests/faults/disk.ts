/**
 * Disk full on one manager: its data dir is a small tmpfs we mount before
 * the node first starts (root only). `fill` writes a file until the tmpfs
 * has no space left, so the next sqlite write fails with SQLITE_FULL;
 * `free` deletes it. The node must not crash or acknowledge anything it
 * could not persist — it may stall (Raft treats it as a slow member).
 */
import { execFile } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ChaosError } from '../errors.js';

const run = promisify(execFile);
const CHUNK = Buffer.alloc(1 << 20);

export class DiskFault {
  dir: string | null = null;
  private mounted = false;

  constructor(private readonly sizeMb = 64) {}

  /** Why this fault cannot run here, or null. */
  static unavailable(): string | null {
    if (process.platform !== 'linux') return 'disk-full needs Linux (tmpfs)';
    if (process.getuid?.() !== 0) return 'disk-full needs root (it mounts a tmpfs as a manager data dir)';
    return null;
  }

  async mount(dir: string): Promise<void> {
    const why = DiskFault.unavailable();
    if (why) throw new ChaosError('NOT_ROOT', why);
    mkdirSync(dir, { recursive: true });
    await run('mount', ['-t', 'tmpfs', '-o', `size=${this.sizeMb}m,mode=0700`, 'shoal-chaos', dir]);
    this.dir = dir;
    this.mounted = true;
  }

  private get fillFile(): string {
    if (!this.dir) throw new ChaosError('SETUP', 'the tmpfs is not mounted');
    return path.join(this.dir, 'chaos-fill');
  }

  /** Writes until ENOSPC; returns the bytes written. */
  fill(): number {
    const fd = openSync(this.fillFile, 'w');
    let total = 0;
    try {
      for (;;) {
        let n: number;
        try {
          n = writeSync(fd, CHUNK, 0, CHUNK.length);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
        total += n;
        if (n < CHUNK.length) {
          // The last partial chunk: fill the remaining bytes one page at a time.
          try {
            for (;;) total += writeSync(fd, CHUNK, 0, 4096);
          } catch {
            break;
          }
        }
      }
    } finally {
      closeSync(fd);
    }
    return total;
  }

  free(): void {
    rmSync(this.fillFile, { force: true });
  }

  async unmount(): Promise<void> {
    if (!this.mounted || !this.dir) return;
    try {
      await run('umount', [this.dir]);
    } catch {
      // Something still holds a file there (a process that is going away): detach now, free later.
      await run('umount', ['-l', this.dir]);
    }
    this.mounted = false;
  }
}
