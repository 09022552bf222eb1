import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

/** One file of a rotated set, opened for reading: `bytes` is how much of it existed when it was opened. */
export interface OpenedLogFile {
  fd: number;
  bytes: number;
}

/**
 * An append-only file rotated by size: `file`, `file.1`, … `file.<max-1>`,
 * newest first. Writes are synchronous, so a record written before a crash
 * is in the file, and so readers can take a consistent cut (openAll) in the
 * same tick as they subscribe to what comes next.
 */
export class RotatingFile {
  private fd: number;
  private bytes: number;
  private closed = false;

  constructor(
    readonly file: string,
    private readonly maxBytes: number,
    private readonly maxFiles: number,
  ) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.fd = openSync(file, 'a', 0o640);
    this.bytes = fstatSync(this.fd).size;
  }

  /** Appends a record; after close() (the process is exiting), records are dropped. */
  write(line: string): void {
    if (this.closed) return;
    const buf = Buffer.from(line);
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
    this.bytes += buf.length;
    if (this.bytes >= this.maxBytes) this.rotate();
  }

  /** Every file of the set that exists, oldest first, opened for reading at their current length. */
  openAll(): OpenedLogFile[] {
    const out: OpenedLogFile[] = [];
    for (let i = this.maxFiles - 1; i >= 0; i--) {
      try {
        const fd = openSync(this.nth(i), 'r');
        out.push({ fd, bytes: fstatSync(fd).size });
      } catch {
        // not rotated that far yet
      }
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private nth(i: number): string {
    return i === 0 ? this.file : `${this.file}.${i}`;
  }

  private rotate(): void {
    closeSync(this.fd);
    rmSync(this.nth(this.maxFiles - 1), { force: true });
    for (let i = this.maxFiles - 2; i >= 0; i--) {
      try {
        renameSync(this.nth(i), this.nth(i + 1));
      } catch {
        // a gap in the set (deleted by hand): nothing to move
      }
    }
    this.fd = openSync(this.file, 'a', 0o640);
    this.bytes = 0;
  }
}
