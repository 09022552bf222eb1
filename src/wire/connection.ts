import { toErrorData } from '../util/errors.js';
import { Codec, FrameKind, type Envelope, type ErrorBody } from './codec.js';
import { WireError, WireErrorCode, isWireError } from './errors.js';
import type { HandlerTable } from './handlers.js';
import type { Attestation, Authorizer, CloseInfo, Connection, NodeId, PeerIdentity, Pipe, RequestOptions, Stream } from './interface.js';
import { CloseCode, Goodbye, Hello, PROTOCOL_VERSION, Ping, Welcome } from './messages.js';
import { countDrop, type WireMetrics } from './metrics.js';
import type { ConnectionOptions } from './options.js';
import type { MessageType } from './registry.js';
import { StreamImpl, type StreamOwner } from './stream.js';
import type { TimerHandle, Timers } from '../util/timers.js';

/** What a connection needs from the transport that made it. */
export interface ConnectionHost {
  readonly nodeId: NodeId;
  readonly codec: Codec;
  readonly options: ConnectionOptions;
  readonly metrics: WireMetrics;
  readonly handlers: HandlerTable;
  readonly authorize: Authorizer | undefined;
  readonly onHandlerError: ((err: unknown, type: string) => void) | undefined;
  /** Keepalive, idle detection and request deadlines run on this clock (a simulation passes its own). */
  readonly timers: Timers;
}

/** The code of the error a request or stream gets when its sender may not send it. */
export const PERMISSION_DENIED_CODE = 'PERMISSION_DENIED';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** Deadline on the host's monotonic clock. */
  deadline: number;
  timeoutMs: number;
  type: string;
}

let nextConnectionId = 1;

type State = 'handshaking' | 'open' | 'closed';

/**
 * Turns a Pipe into a Connection: handshake, keepalive/idle detection,
 * one-way messages, requests with timeouts, and streams. Both transports use
 * this one class, so they behave identically above the byte level.
 */
export class FrameConnection implements Connection, StreamOwner {
  readonly id = nextConnectionId++;
  private state: State = 'handshaking';
  private _peer: PeerIdentity;
  private _closeInfo: CloseInfo | null = null;
  private resolveClosed!: (info: CloseInfo) => void;
  readonly closed: Promise<CloseInfo> = new Promise((r) => (this.resolveClosed = r));
  /** Resolves when the handshake completes; rejects if it fails. */
  readonly established: Promise<void>;
  private resolveEstablished!: () => void;
  private rejectEstablished!: (e: Error) => void;

  private nextId: number;
  private readonly pending = new Map<number, Pending>();
  /**
   * One timer per connection for request deadlines, armed for the earliest
   * one and left to fire even when its request was answered (it then finds
   * nothing): a timer per request cost more CPU than the rest of the request
   * path on the benchmark's round trips.
   */
  private reqTimer: TimerHandle | null = null;
  private reqTimerAt = Infinity;
  private readonly streams = new Map<number, StreamImpl<unknown>>();
  // Liveness bookkeeping is per tick, not per frame: the hot path only sets
  // flags, and the tick turns them into timestamps (tick-granular is enough
  // for keepalive and idle detection, and saves two clock reads per frame).
  private readonly timers: Timers;
  private lastRecv: number;
  private lastSent: number;
  private recvSinceTick = false;
  private sentSinceTick = false;
  private lastTick: number;
  private readonly timer: TimerHandle;
  private readonly tickMs: number;
  private drainWaiters: (() => void)[] = [];
  private opened = false;

  constructor(
    private readonly pipe: Pipe,
    private readonly host: ConnectionHost,
    readonly initiator: boolean,
    private readonly expectNodeId: NodeId | undefined,
    private readonly attested?: Attestation,
  ) {
    this.timers = host.timers;
    this.lastRecv = this.lastSent = this.lastTick = this.timers.now();
    // Dialler allocates odd ids, acceptor even: no coordination needed.
    this.nextId = initiator ? 1 : 2;
    this._peer = {
      nodeId: attested?.nodeId ?? expectNodeId ?? '',
      authenticated: attested !== undefined,
      ...(attested?.publicKey ? { publicKey: attested.publicKey } : {}),
      ...(attested?.role ? { role: attested.role } : {}),
      ...(attested?.clusterId ? { clusterId: attested.clusterId } : {}),
      ...(pipe.remoteAddress ? { address: pipe.remoteAddress } : {}),
    };
    this.established = new Promise<void>((res, rej) => {
      this.resolveEstablished = res;
      this.rejectEstablished = rej;
    });
    // The handshake promise is also observed through `closed`; never leave it unhandled.
    this.established.catch(() => {});
    pipe.onFrame = (f) => this.onFrame(f);
    pipe.onClose = (code, reason) => this.onPipeClosed(code, reason);
    pipe.onDrain = () => this.notifyDrained();
    const o = host.options;
    this.tickMs = Math.max(10, Math.min(o.keepaliveIntervalMs, Math.floor(o.idleTimeoutMs / 3)));
    this.timer = this.timers.setInterval(() => this.tick(), this.tickMs);
    if (initiator) {
      this.writeFrame(FrameKind.Message, Hello.name, 0, {
        nodeId: host.nodeId,
        protocol: PROTOCOL_VERSION,
        ...(expectNodeId ? { expect: expectNodeId } : {}),
      });
    }
  }

  get peer(): PeerIdentity {
    return this._peer;
  }
  get isOpen(): boolean {
    return this.state === 'open';
  }
  get closeInfo(): CloseInfo | null {
    return this._closeInfo;
  }
  /** The peer id as far as known: expected while dialling, declared after the handshake. */
  peerId(): NodeId | undefined {
    return this._peer.nodeId || undefined;
  }

  bufferedBytes(): number {
    return this.pipe.bufferedBytes();
  }

  // ---------------------------------------------------------------- sending

  send<B>(type: MessageType<B, unknown>, body: B): void {
    this.assertOpen(type.name);
    this.writeFrame(FrameKind.Message, type.name, 0, body, type as MessageType);
  }

  request<B, R>(type: MessageType<B, R>, body: B, opts?: RequestOptions): Promise<R> {
    if (this.state !== 'open') return Promise.reject(this.closedError(type.name));
    const id = this.allocId();
    const timeoutMs = opts?.timeoutMs ?? this.host.options.requestTimeoutMs;
    return new Promise<R>((resolve, reject) => {
      const deadline = this.timers.now() + timeoutMs;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, deadline, timeoutMs, type: type.name });
      if (deadline < this.reqTimerAt) this.armRequestTimer(deadline);
      try {
        this.writeFrame(FrameKind.Request, type.name, id, body, type as MessageType);
      } catch (err) {
        this.pending.delete(id);
        reject(err as Error);
      }
    });
  }

  private armRequestTimer(at: number): void {
    this.timers.clear(this.reqTimer);
    this.reqTimerAt = at;
    this.reqTimer = this.timers.setTimeout(() => this.sweepRequests(), Math.max(0, at - this.timers.now()) + 1);
  }

  private sweepRequests(): void {
    this.reqTimer = null;
    this.reqTimerAt = Infinity;
    const now = this.timers.now();
    let next = Infinity;
    for (const [id, p] of this.pending) {
      if (p.deadline <= now) {
        this.pending.delete(id);
        this.host.metrics.requestTimeouts++;
        p.reject(new WireError(WireErrorCode.TIMEOUT, `request ${p.type} to ${this.describePeer()} timed out after ${p.timeoutMs} ms`, p.type));
      } else if (p.deadline < next) next = p.deadline;
    }
    if (next < Infinity) this.armRequestTimer(next);
  }

  openStream<B>(type: MessageType<B, unknown>, body: B): Stream<B> {
    this.assertOpen(type.name);
    const id = this.allocId();
    const s = new StreamImpl<B>(id, type.name, this);
    this.streams.set(id, s as StreamImpl<unknown>);
    try {
      this.writeFrame(FrameKind.StreamOpen, type.name, id, body, type as MessageType);
    } catch (err) {
      this.streams.delete(id);
      throw err;
    }
    return s;
  }

  close(reason = 'closed', code: CloseCode = CloseCode.normal): void {
    this.beginClose({ code, reason, byPeer: false });
  }

  // ------------------------------------------------------- StreamOwner part

  get connection(): Connection {
    return this;
  }

  writeData(id: number, type: string, body: unknown): boolean {
    this.assertOpen(type);
    this.writeFrame(FrameKind.StreamData, type, id, body);
    return this.pipe.bufferedBytes() < this.host.options.highWaterMarkBytes;
  }

  writeEnd(id: number, type: string): void {
    if (this.state === 'open') this.writeFrame(FrameKind.StreamEnd, type, id, undefined);
  }

  writeReset(id: number, type: string, reason: ErrorBody): void {
    if (this.state === 'open') this.writeFrame(FrameKind.StreamReset, type, id, reason);
  }

  drain(): Promise<void> {
    if (this.state !== 'open') return Promise.reject(this.closedError());
    if (this.pipe.bufferedBytes() < this.host.options.highWaterMarkBytes) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  forget(id: number): void {
    this.streams.delete(id);
  }

  private notifyDrained(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  // ---------------------------------------------------------------- internals

  private allocId(): number {
    const id = this.nextId;
    this.nextId += 2;
    return id;
  }

  private assertOpen(type?: string): void {
    if (this.state !== 'open') throw this.closedError(type);
  }

  private closedError(type?: string): WireError {
    const why = this._closeInfo ? `: ${this._closeInfo.code} (${this._closeInfo.reason})` : this.state === 'handshaking' ? ': handshake not complete' : '';
    return new WireError(WireErrorCode.CLOSED, `connection to ${this.describePeer()} is closed${why}`, type);
  }

  private describePeer(): string {
    return this._peer.nodeId || this._peer.address || `connection #${this.id}`;
  }

  private writeFrame(kind: FrameKind, type: string, id: number, body: unknown, mt?: MessageType): void {
    const frame = this.host.codec.encode(kind, type, id, body, mt);
    this.pipe.send(frame);
    this.sentSinceTick = true;
    this.host.metrics.framesOut++;
    this.host.metrics.bytesOut += frame.length;
  }

  private onFrame(frame: Uint8Array): void {
    if (this.state === 'closed') return;
    this.recvSinceTick = true;
    const m = this.host.metrics;
    m.framesIn++;
    m.bytesIn += frame.byteLength;
    let env: Envelope;
    try {
      env = this.host.codec.decode(frame);
    } catch (err) {
      const code = isWireError(err) ? err.code : WireErrorCode.MALFORMED_FRAME;
      countDrop(m, code);
      if (code === WireErrorCode.FRAME_TOO_LARGE) {
        // A peer that sends oversize frames is broken or hostile: say why and hang up.
        this.beginClose({ code: CloseCode.frameTooLarge, reason: (err as Error).message, byPeer: false });
      }
      return;
    }
    if (this.state === 'handshaking') return this.onHandshakeFrame(env);
    if (this.state !== 'open') return;
    try {
      this.dispatch(env);
    } catch (err) {
      // A handler bug must not take the node down: the frame is counted and dropped, and the owner told.
      countDrop(m, 'handler-threw');
      try {
        this.host.onHandlerError?.(err, env.t);
      } catch {
        // the reporter itself failed: the count stands
      }
    }
  }

  private onHandshakeFrame(env: Envelope): void {
    if (env.t === Goodbye.name) return this.onGoodbye(env);
    if (env.t === Ping.name) return;
    if (!this.initiator && env.t === Hello.name) {
      const hello = env.b as { nodeId: string; protocol: number; expect?: string };
      if (hello.expect !== undefined && hello.expect !== this.host.nodeId) {
        return this.failHandshake(`this is node ${this.host.nodeId}, not ${hello.expect}`);
      }
      if (hello.protocol !== PROTOCOL_VERSION) {
        return this.failHandshake(`peer ${hello.nodeId} speaks wire protocol ${hello.protocol}; this node speaks ${PROTOCOL_VERSION}`);
      }
      // Identity comes from what the peer proved, never from what it claims.
      if (this.attested?.nodeId !== undefined && hello.nodeId !== this.attested.nodeId) {
        return this.failHandshake(`peer claims to be node ${hello.nodeId}, but its certificate is node ${this.attested.nodeId}'s`);
      }
      this._peer = { ...this._peer, nodeId: hello.nodeId };
      this.writeFrame(FrameKind.Message, Welcome.name, 0, { nodeId: this.host.nodeId, protocol: PROTOCOL_VERSION });
      return this.open();
    }
    if (this.initiator && env.t === Welcome.name) {
      const w = env.b as { nodeId: string; protocol: number };
      if (this.expectNodeId !== undefined && w.nodeId !== this.expectNodeId) {
        return this.failHandshake(`expected node ${this.expectNodeId}, reached ${w.nodeId}`);
      }
      if (w.protocol !== PROTOCOL_VERSION) {
        return this.failHandshake(`node ${w.nodeId} speaks wire protocol ${w.protocol}; this node speaks ${PROTOCOL_VERSION}`);
      }
      if (this.attested?.nodeId !== undefined && w.nodeId !== this.attested.nodeId) {
        return this.failHandshake(`node ${w.nodeId} answered, but its certificate is node ${this.attested.nodeId}'s`);
      }
      this._peer = { ...this._peer, nodeId: w.nodeId };
      return this.open();
    }
    countDrop(this.host.metrics, 'before-handshake');
  }

  private open(): void {
    this.state = 'open';
    this.opened = true;
    this.host.metrics.connectionsOpened++;
    this.resolveEstablished();
  }

  private failHandshake(reason: string): void {
    this.host.metrics.handshakeFailures++;
    this.beginClose({ code: CloseCode.handshakeFailed, reason, byPeer: false });
  }

  private dispatch(env: Envelope): void {
    const h = this.host.handlers;
    switch (env.k) {
      case FrameKind.Message: {
        if (env.t === Ping.name) return;
        if (env.t === Goodbye.name) return this.onGoodbye(env);
        const fn = h.messages.get(env.t);
        if (!fn) return countDrop(this.host.metrics, 'no-handler');
        if (this.refused(env.t) !== null) return countDrop(this.host.metrics, 'unauthorized');
        return fn(env.b, this);
      }
      case FrameKind.Request:
        return this.serveRequest(env);
      case FrameKind.Response:
      case FrameKind.ErrorResponse: {
        const p = this.pending.get(env.i);
        if (!p || p.type !== env.t) return countDrop(this.host.metrics, 'unmatched-response');
        this.pending.delete(env.i);
        if (env.k === FrameKind.Response) return p.resolve(env.b);
        const e = env.b as ErrorBody;
        return p.reject(new WireError(remoteKind(e), `${env.t} failed on ${this.describePeer()}: ${e.message}`, env.t, e));
      }
      case FrameKind.StreamOpen: {
        const fn = h.streams.get(env.t);
        if (!fn) {
          this.writeFrame(FrameKind.StreamReset, env.t, env.i, { code: NO_HANDLER_CODE, message: `no stream handler for ${env.t}` });
          return countDrop(this.host.metrics, 'no-handler');
        }
        const why = this.refused(env.t);
        if (why !== null) {
          this.writeFrame(FrameKind.StreamReset, env.t, env.i, { code: PERMISSION_DENIED_CODE, message: why });
          return countDrop(this.host.metrics, 'unauthorized');
        }
        if (this.streams.has(env.i) || env.i % 2 === (this.initiator ? 1 : 0)) {
          return countDrop(this.host.metrics, 'bad-stream-id');
        }
        const s = new StreamImpl<unknown>(env.i, env.t, this);
        this.streams.set(env.i, s);
        return fn(s, env.b);
      }
      case FrameKind.StreamData:
      case FrameKind.StreamEnd:
      case FrameKind.StreamReset: {
        const s = this.streams.get(env.i);
        if (!s || s.type !== env.t) return countDrop(this.host.metrics, 'unknown-stream');
        if (env.k === FrameKind.StreamData) return s.deliver(env.b);
        if (env.k === FrameKind.StreamEnd) return s.remoteEnd();
        const e = env.b as ErrorBody;
        return s.fail(new WireError(remoteKind(e), `stream ${env.t} reset by ${this.describePeer()}: ${e.message}`, env.t, e));
      }
    }
  }

  /** Why this peer may not send `type` (the transport's policy), or null. */
  private refused(type: string): string | null {
    return this.host.authorize ? this.host.authorize(this._peer, type) : null;
  }

  private serveRequest(env: Envelope): void {
    const fn = this.host.handlers.requests.get(env.t);
    if (!fn) {
      countDrop(this.host.metrics, 'no-handler');
      this.writeFrame(FrameKind.ErrorResponse, env.t, env.i, { code: NO_HANDLER_CODE, message: `no handler for ${env.t}` });
      return;
    }
    const why = this.refused(env.t);
    if (why !== null) {
      countDrop(this.host.metrics, 'unauthorized');
      this.writeFrame(FrameKind.ErrorResponse, env.t, env.i, { code: PERMISSION_DENIED_CODE, message: why, retryable: false, status: 403 });
      return;
    }
    let result: unknown;
    try {
      result = fn(env.b, this);
    } catch (err) {
      return this.reply(env.t, env.i, FrameKind.ErrorResponse, toErrorData(err));
    }
    if (result instanceof Promise) {
      const { t, i } = env;
      result.then(
        (r) => this.reply(t, i, FrameKind.Response, r),
        (err) => this.reply(t, i, FrameKind.ErrorResponse, toErrorData(err)),
      );
    } else {
      // A synchronous handler's answer goes out at once, with no closure per request.
      this.reply(env.t, env.i, FrameKind.Response, result);
    }
  }

  private reply(type: string, id: number, kind: FrameKind, body: unknown): void {
    if (this.state !== 'open') return;
    try {
      this.writeFrame(kind, type, id, body);
    } catch (err) {
      // e.g. the response is too large: tell the requester instead of leaving it to time out.
      if (kind === FrameKind.Response) this.writeFrame(FrameKind.ErrorResponse, type, id, toErrorData(err));
    }
  }

  private onGoodbye(env: Envelope): void {
    const g = env.b as { code: CloseCode; reason: string };
    if (!this._closeInfo) this._closeInfo = { code: g.code, reason: g.reason, byPeer: true };
    this.beginClose(this._closeInfo);
  }

  /**
   * Ends the connection for its user at once (pending requests fail, streams
   * error, `closed` resolves), then lets the pipe flush the goodbye and close
   * in the background: a dead peer must not delay the verdict.
   */
  private beginClose(info: CloseInfo): void {
    if (this.state === 'closed') return;
    this._closeInfo ??= info;
    if (!info.byPeer) {
      try {
        this.writeFrame(FrameKind.Message, Goodbye.name, 0, { code: info.code, reason: info.reason.slice(0, 1024) });
      } catch {
        // the pipe is already failing; closing below is all we can do
      }
    }
    this.finish();
    this.pipe.close(info.code, info.reason);
  }

  private onPipeClosed(code: CloseCode, reason: string): void {
    this._closeInfo ??= { code, reason, byPeer: true };
    this.finish();
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const info = this._closeInfo!;
    this.timers.clear(this.timer);
    if (this.opened) this.host.metrics.connectionsClosed++;
    const err = this.closedError();
    for (const [, p] of this.pending) p.reject(new WireError(WireErrorCode.CLOSED, err.message, p.type));
    this.pending.clear();
    this.timers.clear(this.reqTimer);
    this.reqTimer = null;
    for (const [, s] of this.streams) s.fail(err);
    this.streams.clear();
    this.rejectEstablished(new WireError(WireErrorCode.HANDSHAKE_FAILED, `handshake with ${this.describePeer()} failed: ${info.reason}`));
    for (const f of this.drainWaiters) f();
    this.drainWaiters = [];
    this.resolveClosed(info);
  }

  private tick(): void {
    const now = this.timers.now();
    const o = this.host.options;
    if (now - this.lastTick > 3 * this.tickMs) {
      // Our own event loop stalled (GC, a long synchronous task, SIGSTOP):
      // frames may be waiting unread in the socket. Give the peer the benefit
      // of the doubt for one more interval rather than blame it for our stall.
      this.lastRecv = Math.max(this.lastRecv, now - this.tickMs);
    }
    this.lastTick = now;
    if (this.recvSinceTick) this.lastRecv = now;
    if (this.sentSinceTick) this.lastSent = now;
    this.recvSinceTick = this.sentSinceTick = false;
    if (this.state === 'handshaking') {
      if (now - this.lastRecv > o.handshakeTimeoutMs) this.failHandshake(`no handshake within ${o.handshakeTimeoutMs} ms`);
      return;
    }
    if (this.state !== 'open') return;
    if (now - this.lastRecv > o.idleTimeoutMs) {
      this.beginClose({ code: CloseCode.idleTimeout, reason: `nothing heard from ${this.describePeer()} for ${Math.round(now - this.lastRecv)} ms`, byPeer: true });
      return;
    }
    if (now - this.lastSent >= o.keepaliveIntervalMs) {
      try {
        this.writeFrame(FrameKind.Message, Ping.name, 0, 0);
      } catch {
        // closing anyway
      }
    }
  }
}

const NO_HANDLER_CODE = `wire.${WireErrorCode.NO_HANDLER}`;

/** NO_HANDLER (ours, or an older peer's bare code) stays itself; anything else the remote threw is REMOTE_ERROR. */
function remoteKind(e: ErrorBody): WireErrorCode {
  return e.code === NO_HANDLER_CODE || e.code === WireErrorCode.NO_HANDLER ? WireErrorCode.NO_HANDLER : WireErrorCode.REMOTE_ERROR;
}
