/**
 * Writes a log response without buffering without bound. Log lines arrive
 * from the nodes as fast as they send them (the wire's streams have no
 * receive window, so the manager cannot make a node wait); this writer
 * respects the response's back-pressure — once `res.write()` returns false
 * it queues instead of writing, and writes the queue on 'drain' — and bounds
 * what it holds for one reader: the socket's unsent bytes plus the queue. A
 * reader that falls further behind than that is dropped: its response ends
 * with a last line saying why, the node streams are cancelled, and the
 * socket is let go of if even that end cannot be delivered soon.
 */
import type { ServerResponse } from 'node:http';
import type { ApiMetrics } from './metrics.js';

/** How long a dropped reader has to take the end of its response before its socket is destroyed. */
const DROP_GRACE_MS = 5_000;

export interface LogWriterOptions {
  maxBufferedBytes: number;
  metrics: ApiMetrics;
  /** The reader was dropped: stop producing (cancel the node streams). */
  onDrop: () => void;
  /** The last frame of a dropped response, given the bytes it would have held. */
  dropFrame: (behindBytes: number) => Buffer;
}

export class LogResponseWriter {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private waitingDrain = false;
  private done = false;
  /** What this writer counts in metrics.logBytesBuffered now. */
  private accounted = 0;
  /** True once this reader was dropped for falling behind. */
  dropped = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly opts: LogWriterOptions,
  ) {
    opts.metrics.logStreams++;
    res.on('drain', this.onDrain);
    res.once('close', () => {
      this.finish();
      opts.metrics.logStreams--;
    });
  }

  /** Bytes held for this reader: the response's and its socket's unsent bytes, plus the queue. */
  get bufferedBytes(): number {
    return this.res.writableLength + this.queued;
  }

  write(frame: Buffer): void {
    if (this.done || this.res.destroyed || this.res.writableEnded) return;
    if (this.waitingDrain) {
      if (this.bufferedBytes + frame.length > this.opts.maxBufferedBytes) return this.drop(this.bufferedBytes + frame.length);
      this.queue.push(frame);
      this.queued += frame.length;
    } else if (!this.res.write(frame)) {
      this.waitingDrain = true;
    }
    this.account();
  }

  /**
   * Resolves once everything queued was handed to the response (or the
   * response is gone): the producer is done, and the response may end.
   */
  flushed(): Promise<void> {
    if (this.done || this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push(resolve));
  }

  private readonly flushWaiters: (() => void)[] = [];

  private readonly onDrain = (): void => {
    if (this.done) return;
    this.waitingDrain = false;
    while (this.queue.length > 0) {
      const f = this.queue.shift()!;
      this.queued -= f.length;
      if (!this.res.write(f)) {
        this.waitingDrain = true;
        break;
      }
    }
    this.account();
    if (this.queue.length === 0) this.wakeFlushWaiters();
  };

  private wakeFlushWaiters(): void {
    for (const w of this.flushWaiters.splice(0)) w();
  }

  private drop(behind: number): void {
    this.dropped = true;
    this.opts.metrics.logStreamsDropped++;
    this.finish();
    const res = this.res;
    // The reader is not reading: if even the end cannot be delivered soon, let go of the socket.
    const timer = setTimeout(() => res.destroy(), DROP_GRACE_MS);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
    res.end(this.opts.dropFrame(behind));
    this.opts.onDrop();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.queue.length = 0;
    this.queued = 0;
    this.res.off('drain', this.onDrain);
    this.account();
    this.wakeFlushWaiters();
  }

  private account(): void {
    const now = this.done ? 0 : this.bufferedBytes;
    const m = this.opts.metrics;
    m.logBytesBuffered += now - this.accounted;
    this.accounted = now;
    if (now > m.logBytesBufferedPeak) m.logBytesBufferedPeak = now;
  }
}
