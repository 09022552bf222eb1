import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { LogLine, LogOptions } from '../interface.js';
import { decodeLogLine, logFiles } from './log-format.js';

/**
 * Reads a task's rotated log files (see log-format.ts) for `logs`: the
 * lines at or after `sinceMs`, then the last `tail` of those; with `follow`,
 * keeps reading task.log as the supervisor appends (reopening it when it rotates)
 * until `finished()` says the task has exited and everything is drained.
 * `timestamps` needs nothing here: every LogLine carries its time and the
 * caller decides whether to print it.
 */
export async function* readLogFiles(
  logDir: string,
  maxFiles: number,
  opts: LogOptions,
  finished: () => boolean | Promise<boolean>,
  pollMs = 50,
): AsyncGenerator<LogLine> {
  const files = logFiles(logDir, maxFiles);
  const current = files[files.length - 1]!;
  const keep = (l: LogLine) => opts.sinceMs === undefined || l.time >= opts.sinceMs;

  // Open the live file first, so lines written while the rotated ones are read are not missed.
  let live = openLive(current);
  const initial: LogLine[] = [];
  const push = (l: LogLine) => {
    if (!keep(l)) return;
    initial.push(l);
    // Bound memory for tail: drop what can no longer be among the last N.
    if (opts.tail !== undefined && initial.length > opts.tail * 2 + 1024) initial.splice(0, initial.length - opts.tail);
  };
  for (const f of files.slice(0, -1)) for (const l of readWhole(f)) push(l);
  try {
    if (live) for (const l of live.readLines()) push(l);
    const first = opts.tail === undefined ? initial : opts.tail <= 0 ? [] : initial.slice(-opts.tail);
    for (const l of first) yield l;
    if (!opts.follow) return;

    for (;;) {
      const done = await finished();
      // Rotated under us: finish the old file, then any rotated since (a fast writer may have
      // rotated more than once between two polls), then start on the new one.
      if (live && live.rotated()) {
        for (const l of live.readLines(true)) if (keep(l)) yield l;
        live.close();
        const rotated = files.slice(0, -1);
        const at = rotated.findIndex((f) => inode(f) === live!.ino);
        for (const f of at >= 0 ? rotated.slice(at + 1) : rotated) for (const l of readWhole(f)) if (keep(l)) yield l;
        live = openLive(current);
      }
      if (!live) live = openLive(current);
      let any = false;
      if (live) {
        for (const l of live.readLines()) {
          any = true;
          if (keep(l)) yield l;
        }
      }
      if (done) {
        if (live) for (const l of live.readLines(true)) if (keep(l)) yield l;
        return;
      }
      if (!any) await new Promise((r) => setTimeout(r, pollMs));
    }
  } finally {
    live?.close();
  }
}

function inode(file: string): number | undefined {
  try {
    return statSync(file).ino;
  } catch {
    return undefined;
  }
}

function readWhole(file: string): LogLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: LogLine[] = [];
  for (const raw of text.split('\n')) {
    const l = raw ? decodeLogLine(raw) : null;
    if (l) out.push(l);
  }
  return out;
}

interface Live {
  readonly ino: number;
  readLines(final?: boolean): LogLine[];
  rotated(): boolean;
  close(): void;
}

function openLive(file: string): Live | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  const ino = fstatSync(fd).ino;
  let pos = 0;
  let rest = '';
  const buf = Buffer.alloc(64 * 1024);
  let closed = false;
  const dec = new StringDecoder('utf8');
  return {
    ino,
    readLines(final = false) {
      const out: LogLine[] = [];
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        rest += dec.write(buf.subarray(0, n));
        const parts = rest.split('\n');
        rest = parts.pop()!;
        for (const p of parts) {
          const l = p ? decodeLogLine(p) : null;
          if (l) out.push(l);
        }
      }
      if (final && rest) {
        const l = decodeLogLine(rest);
        if (l) out.push(l);
        rest = '';
      }
      return out;
    },
    rotated() {
      try {
        return statSync(file).ino !== ino;
      } catch {
        return true;
      }
    },
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}
