import { Codec } from './codec.js';
import { FrameConnection, type ConnectionHost } from './connection.js';
import { WireError, WireErrorCode, isWireError } from './errors.js';
import { HandlerTable } from './handlers.js';
import type {
  Attestation,
  Authorizer,
  Connection,
  ConnectOptions,
  ListenOptions,
  MessageHandler,
  NodeId,
  PeerTarget,
  Pipe,
  PipeContext,
  PipeMiddleware,
  RequestHandler,
  StreamHandler,
  Transport,
} from './interface.js';
import { newWireMetrics, type WireMetrics } from './metrics.js';
import { defaultConnectionOptions, type ConnectionOptions } from './options.js';
import type { MessageType } from './registry.js';
import { CloseCode } from './messages.js';
import { systemTimers, type Timers } from '../util/timers.js';

export interface TransportOptions {
  nodeId: NodeId;
  connection?: Partial<ConnectionOptions>;
  codec?: Codec;
  /**
   * Outbound connections do not keep the process alive (node-local helpers:
   * a runtime used by a short-lived process or a test talks to a supervisor
   * that outlives it).
   */
  unref?: boolean;
  /** Who may send what (default: anyone anything). The node daemon's policy is src/node/access.ts. */
  authorize?: Authorizer;
  /** Inbound connections beyond this many are refused at once (default 1,024). */
  maxConnections?: number;
  /** Told when a handler throws (the frame is dropped and counted; the node goes on). */
  onHandlerError?: (err: unknown, type: string) => void;
  /** Connection deadlines, keepalives and request timeouts (default: the machine's); a simulation passes its own. */
  timers?: Timers;
}

export interface OpenedPipe {
  pipe: Pipe;
  /** What the transport proved about the peer (a verified certificate; a Noise key). */
  attested?: Attestation;
}

/**
 * Everything transports share: handler table, middleware, connection
 * tracking, connect-with-deadline. A concrete transport supplies only how to
 * open and accept Pipes.
 */
export abstract class BaseTransport implements Transport, ConnectionHost {
  abstract readonly kind: 'ws' | 'hyperswarm';
  readonly nodeId: NodeId;
  readonly codec: Codec;
  readonly options: ConnectionOptions;
  protected readonly unref: boolean;
  readonly authorize: Authorizer | undefined;
  readonly onHandlerError: ((err: unknown, type: string) => void) | undefined;
  readonly timers: Timers;
  private readonly maxConnections: number;
  readonly metrics: WireMetrics = newWireMetrics();
  readonly handlers = new HandlerTable();
  private readonly middleware: PipeMiddleware[] = [];
  private readonly live = new Set<FrameConnection>();
  private readonly connectionListeners: ((c: Connection) => void)[] = [];
  protected closing = false;

  constructor(opts: TransportOptions) {
    if (!opts.nodeId) throw new WireError(WireErrorCode.REGISTRY, 'transport needs a nodeId');
    this.nodeId = opts.nodeId;
    this.options = { ...defaultConnectionOptions, ...opts.connection };
    this.unref = opts.unref ?? false;
    this.authorize = opts.authorize;
    this.onHandlerError = opts.onHandlerError;
    this.timers = opts.timers ?? systemTimers;
    this.maxConnections = opts.maxConnections ?? 1024;
    this.codec = opts.codec ?? new Codec({ maxFrameBytes: this.options.maxFrameBytes });
  }

  abstract listen(opts?: ListenOptions): Promise<string>;
  /** Opens a pipe to `target`; must honour `signal` by destroying whatever it started. */
  protected abstract openPipe(target: PeerTarget, signal: AbortSignal): Promise<OpenedPipe>;
  /** Stops accepting and releases transport resources (after connections are closed). */
  protected abstract shutdown(): Promise<void>;

  onMessage<B>(type: MessageType<B, unknown>, fn: MessageHandler<B>): void {
    this.codec.registry.add(type as MessageType);
    this.handlers.onMessage(type, fn);
  }
  onRequest<B, R>(type: MessageType<B, R>, fn: RequestHandler<B, R>): void {
    this.codec.registry.add(type as MessageType);
    this.handlers.onRequest(type, fn);
  }
  onStream<B>(type: MessageType<B, unknown>, fn: StreamHandler<B>): void {
    this.codec.registry.add(type as MessageType);
    this.handlers.onStream(type, fn);
  }
  off(type: { name: string }): void {
    this.handlers.off(type);
  }
  onConnection(fn: (conn: Connection) => void): () => void {
    this.connectionListeners.push(fn);
    return () => {
      const i = this.connectionListeners.indexOf(fn);
      if (i >= 0) this.connectionListeners.splice(i, 1);
    };
  }
  use(mw: PipeMiddleware): void {
    this.middleware.push(mw);
  }
  connections(): Connection[] {
    return [...this.live].filter((c) => c.isOpen);
  }

  async connect(target: PeerTarget, opts: ConnectOptions = {}): Promise<Connection> {
    if (this.closing) throw new WireError(WireErrorCode.CLOSED, 'transport is closed');
    const timeoutMs = opts.timeoutMs ?? this.options.handshakeTimeoutMs;
    const ac = new AbortController();
    const timer = this.timers.setTimeout(() => ac.abort(), timeoutMs);
    try {
      let opened: OpenedPipe;
      try {
        opened = await this.openPipe(target, ac.signal);
      } catch (err) {
        if (ac.signal.aborted) throw new WireError(WireErrorCode.TIMEOUT, `connecting to ${describe(target)} timed out after ${timeoutMs} ms`);
        if (isWireError(err)) throw err;
        throw new WireError(WireErrorCode.CONNECT_FAILED, `cannot connect to ${describe(target)}: ${(err as Error)?.message ?? err}`);
      }
      const conn = this.adopt(opened.pipe, true, opts.expectNodeId, opened.attested);
      const onAbort = () => conn.close(`handshake timed out after ${timeoutMs} ms`, 'handshake-failed');
      ac.signal.addEventListener('abort', onAbort, { once: true });
      try {
        await conn.established;
      } finally {
        ac.signal.removeEventListener('abort', onAbort);
      }
      return conn;
    } finally {
      this.timers.clear(timer);
    }
  }

  /** Wraps a pipe (outbound or accepted) in middleware and a FrameConnection. */
  protected adopt(pipe: Pipe, initiator: boolean, expectNodeId?: NodeId, attested?: Attestation): FrameConnection {
    let conn: FrameConnection | undefined;
    // A cap, so a flood of connections cannot exhaust memory or file descriptors.
    const overCap = !initiator && this.live.size >= this.maxConnections;
    const ctx: PipeContext = {
      localId: this.nodeId,
      initiator,
      peerId: () => conn?.peerId() ?? expectNodeId,
    };
    let p = pipe;
    for (const mw of this.middleware) p = mw(p, ctx);
    conn = new FrameConnection(p, this, initiator, expectNodeId, attested);
    const c = conn;
    this.live.add(c);
    void c.closed.then(() => this.live.delete(c));
    c.established.then(
      () => {
        for (const fn of this.connectionListeners) fn(c);
      },
      () => {},
    );
    if (this.closing) c.close('transport shutting down', 'shutdown');
    else if (overCap) {
      this.metrics.connectionsRefused++;
      c.close(`this node accepts at most ${this.maxConnections} connections`, CloseCode.shutdown);
    }
    return c;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const all = [...this.live];
    for (const c of all) c.close('transport shutting down', 'shutdown');
    // Give goodbyes a moment to flush, but never hang on a dead peer.
    await Promise.race([Promise.all(all.map((c) => c.closed)), new Promise((r) => this.timers.setTimeout(() => r(undefined), 500))]);
    await this.shutdown();
  }
}

export function describe(target: PeerTarget): string {
  if (typeof target === 'string') return target;
  if ('address' in target) return target.address;
  if ('topic' in target) return `topic ${hex(target.topic).slice(0, 16)}…`;
  const k = hex(target.publicKey).slice(0, 16);
  return target.host ? `${k}…@${target.host}:${target.port}` : `${k}…`;
}

function hex(v: Uint8Array | string): string {
  return typeof v === 'string' ? v : Buffer.from(v).toString('hex');
}
