import { systemRng, type Rng } from '../util/rng.js';
import { Backoff } from '../util/backoff.js';
import { WireError, WireErrorCode } from './errors.js';
import type { Connection, ConnectOptions, NodeId, PeerTarget, RequestOptions, Transport } from './interface.js';
import { defaultBackoff, type BackoffOptions } from './options.js';
import type { MessageType } from './registry.js';
import { systemTimers, type TimerHandle, type Timers } from '../util/timers.js';

export interface PeerLinkOptions {
  expectNodeId?: NodeId;
  backoff?: Partial<BackoffOptions>;
  rng?: Rng;
  connectTimeoutMs?: number;
  /** Back-off sleeps and waits (default: the machine's); a simulation passes its own. */
  timers?: Timers;
}

/**
 * A persistent link to one peer: dials, and redials with jittered
 * exponential back-off whenever the connection drops, until closed. Raft
 * replication and dispatcher sessions hold one per peer and never manage
 * sockets themselves.
 */
export class PeerLink {
  private conn: Connection | null = null;
  private stopped = false;
  private readonly backoff: Backoff;
  private readonly timers: Timers;
  private wakeRetry: (() => void) | null = null;
  private readonly upListeners: ((c: Connection) => void)[] = [];
  private readonly downListeners: ((c: Connection) => void)[] = [];
  private waiters: { ok: (c: Connection) => void; fail: (e: Error) => void }[] = [];
  /** Number of successful (re)connections; 1 after the first. */
  connects = 0;
  lastError: Error | null = null;

  constructor(
    private readonly transport: Transport,
    readonly target: PeerTarget,
    private readonly opts: PeerLinkOptions = {},
  ) {
    this.backoff = new Backoff({ ...defaultBackoff, ...opts.backoff }, opts.rng ?? systemRng());
    this.timers = opts.timers ?? systemTimers;
    void this.run();
  }

  get connection(): Connection | null {
    return this.conn?.isOpen ? this.conn : null;
  }

  onUp(fn: (c: Connection) => void): void {
    this.upListeners.push(fn);
    if (this.connection) fn(this.connection);
  }

  onDown(fn: (c: Connection) => void): void {
    this.downListeners.push(fn);
  }

  /**
   * Sends if connected; returns false (frame not sent) otherwise. Callers
   * such as Raft tolerate loss and resend on their own schedule.
   */
  send<B>(type: MessageType<B, unknown>, body: B): boolean {
    const c = this.connection;
    if (!c) return false;
    try {
      c.send(type, body);
      return true;
    } catch {
      return false;
    }
  }

  /** Waits for a connection (up to the request timeout), then sends the request. */
  async request<B, R>(type: MessageType<B, R>, body: B, opts: RequestOptions = {}): Promise<R> {
    const timeoutMs = opts.timeoutMs ?? 5_000;
    const start = this.timers.now();
    const c = await this.waitConnected(timeoutMs);
    return c.request(type, body, { timeoutMs: Math.max(1, timeoutMs - (this.timers.now() - start)) });
  }

  /** Resolves with an open connection, or rejects after `timeoutMs`. */
  waitConnected(timeoutMs: number): Promise<Connection> {
    const c = this.connection;
    if (c) return Promise.resolve(c);
    if (this.stopped) return Promise.reject(new WireError(WireErrorCode.CLOSED, 'peer link closed'));
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        const why = this.lastError ? `: ${this.lastError.message}` : '';
        reject(new WireError(WireErrorCode.TIMEOUT, `not connected within ${timeoutMs} ms${why}`));
      }, timeoutMs);
      const w = {
        ok: (conn: Connection) => {
          this.timers.clear(timer);
          resolve(conn);
        },
        fail: (e: Error) => {
          this.timers.clear(timer);
          reject(e);
        },
      };
      this.waiters.push(w);
    });
  }

  /** Skip the current back-off wait and redial now (e.g. gossip says the peer is back). */
  retryNow(): void {
    this.backoff.reset();
    this.wakeRetry?.();
  }

  close(reason = 'link closed'): void {
    this.stopped = true;
    this.wakeRetry?.();
    this.conn?.close(reason);
    const w = this.waiters;
    this.waiters = [];
    for (const x of w) x.fail(new WireError(WireErrorCode.CLOSED, `peer link closed: ${reason}`));
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let conn: Connection;
      try {
        const copts: ConnectOptions = {};
        if (this.opts.expectNodeId !== undefined) copts.expectNodeId = this.opts.expectNodeId;
        if (this.opts.connectTimeoutMs !== undefined) copts.timeoutMs = this.opts.connectTimeoutMs;
        conn = await this.transport.connect(this.target, copts);
      } catch (err) {
        this.lastError = err as Error;
        if (this.stopped) return;
        await this.sleep(this.backoff.next());
        continue;
      }
      if (this.stopped) {
        conn.close('link closed');
        return;
      }
      this.conn = conn;
      this.connects++;
      this.backoff.reset();
      for (const fn of this.upListeners) fn(conn);
      const w = this.waiters;
      this.waiters = [];
      for (const x of w) x.ok(conn);
      await conn.closed;
      for (const fn of this.downListeners) fn(conn);
      if (this.conn === conn) this.conn = null;
      // A fresh drop is retried fast; repeated failures back off from there.
      if (!this.stopped) await this.sleep(this.backoff.next());
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timers = this.timers;
      const t: TimerHandle = timers.setTimeout(done, ms);
      function done() {
        timers.clear(t);
        resolve();
      }
      this.wakeRetry = () => {
        this.wakeRetry = null;
        done();
      };
    });
  }
}
