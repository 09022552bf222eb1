import { closeSync, read } from 'node:fs';
import { promisify } from 'node:util';
import { StringDecoder } from 'node:string_decoder';
import { levelRank, type LogLevel } from './interface.js';
import { parseRecord, prettyRecord } from './pretty.js';
import { RotatingFile, type OpenedLogFile } from './rotating-file.js';
import type { NodeLogOptions } from './options.js';
import { LogMetrics } from './metrics.js';

const readAsync = promisify(read);

/** What `shoal node logs` asks of a node's log. */
export interface LogQuery {
  /** Only the last N matching records of what is already written. */
  tail?: number;
  /** Only records at or after this time (ms since the epoch). */
  sinceMs?: number;
  /** Only records at this level or worse. */
  minLevel?: LogLevel;
  /** Only records of this component. */
  component?: string;
  /** Then keep sending records as they are written, until `signal` aborts. */
  follow: boolean;
}

type Out = { write(s: string): unknown; isTTY?: boolean };

/**
 * Where a node's log records go (pino's destination): the rotated file, or
 * stderr (JSON, or pretty lines on a TTY) with the last records kept in
 * memory, and to whoever follows the log. It also counts records by level
 * for /metrics.
 */
export class NodeLogSink {
  readonly metrics = new LogMetrics();
  private readonly file: RotatingFile | null;
  private readonly memory: string[] = [];
  private memoryNext = 0;
  private readonly followers = new Set<(line: string) => void>();
  private readonly pretty: boolean;

  constructor(
    private readonly opts: NodeLogOptions,
    private readonly out: Out,
  ) {
    this.file = opts.file ? new RotatingFile(opts.file, opts.maxFileBytes, opts.maxFiles) : null;
    this.pretty = opts.format === 'pretty' || (opts.format === 'auto' && out.isTTY === true);
  }

  /** pino calls this with one record, newline included. */
  write(line: string): void {
    const m = /^\{"level":"(\w+)"/.exec(line);
    this.metrics.count(m?.[1] ?? 'unknown');
    if (this.file) this.file.write(line);
    else {
      const r = this.pretty ? parseRecord(line.trimEnd()) : null;
      this.out.write(r ? `${prettyRecord(r, { colour: true })}\n` : line);
      if (this.memory.length < this.opts.memoryLines) this.memory.push(line);
      else this.memory[this.memoryNext] = line;
      this.memoryNext = (this.memoryNext + 1) % this.opts.memoryLines;
    }
    for (const f of this.followers) f(line);
  }

  /**
   * The records that match `q`, one JSON line each (newline included), as
   * written: history first (the files, rotated ones included, or memory),
   * then, when following, each new one. The cut between the two is taken in
   * one tick, so nothing is missed or sent twice.
   */
  async read(q: LogQuery, onLine: (line: string) => void | Promise<void>, signal: AbortSignal): Promise<void> {
    const match = matcher(q);
    let pending: string[] | null = [];
    const follower = (line: string) => {
      if (!match(line)) return;
      if (pending) pending.push(line);
      else void onLine(line);
    };
    if (q.follow) this.followers.add(follower);
    const files = this.file?.openAll() ?? null;
    const memory = files ? [] : this.memory.length < this.opts.memoryLines ? [...this.memory] : [...this.memory.slice(this.memoryNext), ...this.memory.slice(0, this.memoryNext)];
    try {
      const tail = q.tail !== undefined ? new Array<string>() : null;
      const take = async (line: string) => {
        if (!match(line)) return;
        if (!tail) return onLine(line);
        tail.push(line);
        if (tail.length > q.tail!) tail.shift();
      };
      if (files) for (const f of files) for await (const line of linesOf(f, signal)) await take(line);
      else for (const line of memory) await take(line);
      for (const line of tail ?? []) await onLine(line);
      if (!q.follow) return;
      for (const line of pending) await onLine(line);
      pending = null;
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      this.followers.delete(follower);
      for (const f of files ?? []) closeQuietly(f.fd);
    }
  }

  close(): void {
    this.file?.close();
  }
}

function matcher(q: LogQuery): (line: string) => boolean {
  const min = q.minLevel ? levelRank(q.minLevel) : 0;
  if (!min && q.sinceMs === undefined && q.component === undefined) return () => true;
  return (line) => {
    const r = parseRecord(line.trimEnd());
    if (!r) return false;
    if (levelRank(r.level) < min) return false;
    if (q.component !== undefined && r.component !== q.component) return false;
    return q.sinceMs === undefined || Date.parse(r.time) >= q.sinceMs;
  };
}

/** The lines of one opened file up to the length it had when opened (newlines kept). */
async function* linesOf(f: OpenedLogFile, signal: AbortSignal): AsyncGenerator<string> {
  const buf = Buffer.alloc(64 * 1024);
  let pos = 0;
  let rest = '';
  const utf8 = new StringDecoder('utf8');
  while (pos < f.bytes && !signal.aborted) {
    const { bytesRead } = await readAsync(f.fd, buf, 0, Math.min(buf.length, f.bytes - pos), pos);
    if (bytesRead === 0) break;
    pos += bytesRead;
    const text = rest + utf8.write(buf.subarray(0, bytesRead));
    const lines = text.split('\n');
    rest = lines.pop()!;
    for (const l of lines) if (l) yield `${l}\n`;
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

