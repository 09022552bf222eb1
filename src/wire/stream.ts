import { toErrorData, type ErrorData, type ShoalError } from '../util/errors.js';
import { WireError, WireErrorCode } from './errors.js';
import type { Connection, Stream } from './interface.js';

/** What a stream needs from its connection; keeps stream.ts free of the connection's internals. */
export interface StreamOwner {
  readonly connection: Connection;
  writeData(id: number, type: string, body: unknown): boolean;
  writeEnd(id: number, type: string): void;
  writeReset(id: number, type: string, reason: ErrorData): void;
  drain(): Promise<void>;
  forget(id: number): void;
}

/**
 * One stream inside a connection. Incoming frames are queued until consumed
 * by iteration or delivered to an `onData` callback.
 */
export class StreamImpl<B> implements Stream<B> {
  private readonly queue: B[] = [];
  private waiter: { resolve: (r: IteratorResult<B>) => void; reject: (e: Error) => void } | null = null;
  private push: ((body: B) => void) | null = null;
  private pushEnd: ((err?: Error) => void) | null = null;
  private remoteEnded = false;
  private localEnded = false;
  private failure: Error | null = null;

  constructor(
    readonly id: number,
    readonly type: string,
    private readonly owner: StreamOwner,
  ) {}

  get connection(): Connection {
    return this.owner.connection;
  }

  write(body: B): boolean {
    if (this.failure) throw this.failure;
    if (this.localEnded) throw new WireError(WireErrorCode.CLOSED, `stream ${this.id} (${this.type}) already ended`, this.type);
    return this.owner.writeData(this.id, this.type, body);
  }

  drain(): Promise<void> {
    return this.owner.drain();
  }

  end(): void {
    if (this.localEnded || this.failure) return;
    this.localEnded = true;
    this.owner.writeEnd(this.id, this.type);
    this.maybeForget();
  }

  reset(reason: string | ShoalError): void {
    if (this.failure) return;
    const data = typeof reason === 'string' ? { code: 'wire.RESET', message: reason } : toErrorData(reason);
    this.owner.writeReset(this.id, this.type, data);
    this.fail(new WireError(WireErrorCode.CLOSED, `stream reset locally: ${data.message}`, this.type));
  }

  onData(fn: (body: B) => void, onEnd?: (err?: Error) => void): void {
    this.push = fn;
    this.pushEnd = onEnd ?? null;
    while (this.queue.length > 0) fn(this.queue.shift()!);
    if (this.failure) onEnd?.(this.failure);
    else if (this.remoteEnded) onEnd?.();
  }

  // ---- called by the connection ----

  deliver(body: B): void {
    if (this.failure || this.remoteEnded) return;
    if (this.push) return this.push(body);
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      return w.resolve({ value: body, done: false });
    }
    this.queue.push(body);
  }

  remoteEnd(): void {
    if (this.remoteEnded || this.failure) return;
    this.remoteEnded = true;
    if (this.push) this.pushEnd?.();
    else if (this.waiter && this.queue.length === 0) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve({ value: undefined, done: true });
    }
    this.maybeForget();
  }

  fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    this.owner.forget(this.id);
    if (this.push) this.pushEnd?.(err);
    else if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.reject(err);
    }
  }

  private maybeForget(): void {
    if (this.localEnded && this.remoteEnded) this.owner.forget(this.id);
  }

  [Symbol.asyncIterator](): AsyncIterator<B> {
    return {
      next: () => {
        if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
        if (this.failure) return Promise.reject(this.failure);
        if (this.remoteEnded) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
      return: () => {
        // The consumer stopped early: we will read no more, so tell the peer.
        if (!this.remoteEnded && !this.failure) this.reset('consumer stopped reading');
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
