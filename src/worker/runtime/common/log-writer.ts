import { closeSync, fstatSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { encodeLogLine, LOG_FILE, MAX_LINE_BYTES, type LogRotation } from './log-format.js';

/**
 * The task supervisor's log sink: splits each stream into lines, stamps and appends
 * them to task.log, rotating by size. Synchronous appends from one process
 * keep stdout and stderr lines in arrival order and make a line visible to
 * readers as soon as it is written.
 */
export class LogWriter {
  private fd: number;
  private size: number;
  private readonly partial = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  private readonly partialLen = { stdout: 0, stderr: 0 };

  constructor(
    private readonly dir: string,
    private readonly rotation: LogRotation,
    private readonly now: () => number = Date.now,
  ) {
    mkdirSync(dir, { recursive: true });
    this.fd = openSync(this.file(0), 'a', 0o640);
    this.size = fstatSync(this.fd).size;
  }

  private file(i: number): string {
    return path.join(this.dir, i === 0 ? LOG_FILE : `${LOG_FILE}.${i}`);
  }

  /** Feed a chunk read from the task's stdout or stderr pipe. */
  write(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    const time = this.now();
    let out = '';
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      out += this.finishLine(stream, chunk.subarray(start, nl), time);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.partial[stream].push(chunk.subarray(start));
      this.partialLen[stream] += chunk.length - start;
      // A line that never ends must not grow without bound.
      while (this.partialLen[stream] >= MAX_LINE_BYTES) {
        const all = Buffer.concat(this.partial[stream]);
        out += encodeLogLine(stream, time, all.subarray(0, MAX_LINE_BYTES).toString('utf8'));
        const rest = all.subarray(MAX_LINE_BYTES);
        this.partial[stream] = rest.length ? [rest] : [];
        this.partialLen[stream] = rest.length;
      }
    }
    if (out) this.append(out);
  }

  private finishLine(stream: 'stdout' | 'stderr', tail: Buffer, time: number): string {
    let line = tail;
    if (this.partialLen[stream] > 0) {
      line = Buffer.concat([...this.partial[stream], tail]);
      this.partial[stream] = [];
      this.partialLen[stream] = 0;
    }
    let out = '';
    for (let i = 0; i < line.length || i === 0; i += MAX_LINE_BYTES) {
      out += encodeLogLine(stream, time, line.subarray(i, i + MAX_LINE_BYTES).toString('utf8'));
      if (line.length === 0) break;
    }
    return out;
  }

  /** Writes out a last line that had no newline (the stream ended). */
  flush(stream: 'stdout' | 'stderr'): void {
    if (this.partialLen[stream] === 0) return;
    const line = Buffer.concat(this.partial[stream]).toString('utf8');
    this.partial[stream] = [];
    this.partialLen[stream] = 0;
    this.append(encodeLogLine(stream, this.now(), line));
  }

  /** A line from the supervisor itself (e.g. why the task could not start), on stderr. */
  note(line: string): void {
    this.append(encodeLogLine('stderr', this.now(), line));
  }

  private append(text: string): void {
    const bytes = Buffer.byteLength(text);
    if (this.size > 0 && this.size + bytes > this.rotation.maxBytes) this.rotate();
    writeSync(this.fd, text);
    this.size += bytes;
  }

  private rotate(): void {
    closeSync(this.fd);
    const n = this.rotation.maxFiles;
    rmSync(this.file(n - 1), { force: true });
    for (let i = n - 2; i >= 0; i--) {
      try {
        renameSync(this.file(i), this.file(i + 1));
      } catch {
        /* not there yet */
      }
    }
    if (n <= 1) rmSync(this.file(0), { force: true });
    this.fd = openSync(this.file(0), 'a', 0o640);
    this.size = 0;
  }

  close(): void {
    this.flush('stdout');
    this.flush('stderr');
    closeSync(this.fd);
  }
}
