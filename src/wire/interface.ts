/**
 * The contract every node-to-node stream goes through: Raft between
 * managers, dispatcher sessions from workers, gossip push-pull, and later
 * overlay tunnels. Two implementations (WebSocket over TCP, hyperswarm over
 * UDX with Noise) pass one conformance suite; the fault injector wraps either.
 *
 * Layering: a Transport produces Pipes (ordered, reliable, message-framed
 * byte channels); one shared FrameConnection turns a Pipe into a Connection
 * (codec, handshake, keepalive, requests, streams). Middleware (fault
 * injection, metrics taps) interposes on Pipes, so it works for any
 * transport without knowing about requests or streams.
 */
import type { ShoalError } from '../util/errors.js';
import type { CloseCode } from './messages.js';
import type { MessageType } from './registry.js';
import type { WireMetrics } from './metrics.js';

export type NodeId = string;

export interface PeerIdentity {
  /**
   * The peer's node id: from its verified certificate when `authenticated`
   * on TLS (the handshake's claim must match it, or the connection is
   * refused), otherwise only what it declared.
   */
  nodeId: NodeId;
  /**
   * True when the transport proved the identity (a node certificate our CA
   * issued, on TLS; the Noise static key on hyperswarm). False means the
   * nodeId is only claimed.
   */
  authenticated: boolean;
  /** The role its certificate grants (TLS): 'manager' or 'worker'. */
  role?: string;
  /** The cluster its certificate belongs to (TLS). */
  clusterId?: string;
  /** The peer's Noise public key (hyperswarm). */
  publicKey?: Uint8Array;
  /** "host:port" of the remote end, when the transport knows it. */
  address?: string;
}

/** What a transport proved about a peer before the handshake (a verified certificate, a Noise key). */
export interface Attestation {
  nodeId?: NodeId;
  role?: string;
  clusterId?: string;
  publicKey?: Uint8Array;
}

/**
 * Decides, for every inbound frame that would reach a handler, whether this
 * peer may send it: null to let it through, or why not (the frame is dropped
 * and counted; a request is answered PERMISSION_DENIED, a stream reset).
 */
export type Authorizer = (peer: PeerIdentity, type: string) => string | null;

/**
 * Whom to dial.
 * - ws: "host:port", "ws://host:port", "wss://host:port", or "unix:/path" (a
 *   unix socket a ws transport listens on with `listen({path})`);
 * - hyperswarm: a hex public key, `{publicKey, host?, port?}` (direct, with an
 *   optional address hint for the peer's DHT node), or `{topic}` (discovery).
 */
export type PeerTarget =
  | string
  | { address: string }
  | { publicKey: Uint8Array | string; host?: string; port?: number }
  | { topic: Uint8Array | string };

export interface ConnectOptions {
  /** Refuse the connection unless the peer turns out to be this node. */
  expectNodeId?: NodeId;
  /** Give up dialling (including the handshake) after this long. */
  timeoutMs?: number;
}

export interface CloseInfo {
  code: CloseCode;
  reason: string;
  /** True when the peer initiated the close (or vanished), false when we did. */
  byPeer: boolean;
}

export interface RequestOptions {
  timeoutMs?: number;
}

/** A bidirectional ordered stream of typed frames inside a Connection. */
export interface Stream<B> extends AsyncIterable<B> {
  readonly id: number;
  readonly type: string;
  readonly connection: Connection;
  /** Queues a frame; false means the connection is above its high-water mark. */
  write(body: B): boolean;
  /** Resolves when the connection's outbound buffer is below the high-water mark. */
  drain(): Promise<void>;
  /** Half-close: we send no more. The peer's iteration ends. */
  end(): void;
  /** Abort both directions; the peer's iteration throws with `reason`. */
  /** Ends the stream for both sides; an error's code, retryable and leader hint reach the peer as data. */
  reset(reason: string | ShoalError): void;
  /** Set a push-style consumer instead of iterating (one of the two, not both). */
  onData(fn: (body: B) => void, onEnd?: (err?: Error) => void): void;
}

export interface Connection {
  /** Process-local id, for logs. */
  readonly id: number;
  readonly peer: PeerIdentity;
  /** True on the side that dialled. */
  readonly initiator: boolean;
  readonly isOpen: boolean;
  readonly closeInfo: CloseInfo | null;
  /** Resolves once, when the connection is closed for any reason. */
  readonly closed: Promise<CloseInfo>;
  /** Fire-and-forget. Throws WireError CLOSED or FRAME_TOO_LARGE. */
  send<B>(type: MessageType<B, unknown>, body: B): void;
  /** Rejects with WireError TIMEOUT, CLOSED, REMOTE_ERROR or NO_HANDLER. */
  request<B, R>(type: MessageType<B, R>, body: B, opts?: RequestOptions): Promise<R>;
  openStream<B>(type: MessageType<B, unknown>, body: B): Stream<B>;
  /** Sends a goodbye with the reason, then closes. Idempotent. */
  close(reason?: string, code?: CloseCode): void;
  /** Outbound bytes queued in the transport and not yet written. */
  bufferedBytes(): number;
}

export type MessageHandler<B> = (body: B, conn: Connection) => void;
export type RequestHandler<B, R> = (body: B, conn: Connection) => R | Promise<R>;
export type StreamHandler<B> = (stream: Stream<B>, openBody: B) => void;

/** Handlers are registered per message type on the transport and serve every connection. */
export interface Handlers {
  onMessage<B>(type: MessageType<B, unknown>, fn: MessageHandler<B>): void;
  onRequest<B, R>(type: MessageType<B, R>, fn: RequestHandler<B, R>): void;
  onStream<B>(type: MessageType<B, unknown>, fn: StreamHandler<B>): void;
  /** Removes every handler of `type` (a component stopping on a transport that lives on). */
  off(type: { name: string }): void;
}

/**
 * An ordered, reliable, message-framed byte channel: one WebSocket, or one
 * Noise secret stream. Transports make them; FrameConnection consumes them.
 */
export interface Pipe {
  send(frame: Uint8Array): void;
  bufferedBytes(): number;
  /** Close after flushing what was sent. `onClose` fires once, later. */
  close(code: CloseCode, reason: string): void;
  /** Set by the consumer. */
  onFrame: ((frame: Uint8Array) => void) | null;
  /** Set by the consumer; called exactly once, whoever closed. */
  onClose: ((code: CloseCode, reason: string) => void) | null;
  /** Set by the consumer; called when the outbound buffer has emptied. */
  onDrain: (() => void) | null;
  readonly remoteAddress?: string;
  readonly remotePublicKey?: Uint8Array;
}

export interface PipeContext {
  readonly localId: NodeId;
  readonly initiator: boolean;
  /** The peer's node id: expected when dialling, learned from the handshake when accepting. */
  peerId(): NodeId | undefined;
}

/** Wraps a Pipe (fault injection, taps). Applied in registration order, outermost last. */
export type PipeMiddleware = (pipe: Pipe, ctx: PipeContext) => Pipe;

export interface ListenOptions {
  /** ws: interface to bind (default 127.0.0.1). hyperswarm: ignored (the DHT node's host is used). */
  host?: string;
  /** ws: TCP port (0 = any). hyperswarm: ignored. */
  port?: number;
  /** hyperswarm: also announce on this topic so `{topic}` dials find us. */
  topic?: Uint8Array | string;
  /**
   * ws: listen on this unix socket path instead of TCP (node-local streams,
   * e.g. the agent and its task supervisor). Dial it as `unix:PATH`.
   */
  path?: string;
}

export interface Transport extends Handlers {
  readonly kind: 'ws' | 'hyperswarm';
  readonly nodeId: NodeId;
  readonly metrics: WireMetrics;
  /** Starts accepting; resolves to the address others dial to reach us. */
  listen(opts?: ListenOptions): Promise<string>;
  /** Dials once. Rejects with WireError CONNECT_FAILED / HANDSHAKE_FAILED / TIMEOUT. */
  connect(target: PeerTarget, opts?: ConnectOptions): Promise<Connection>;
  /** Called for every connection that completes its handshake, in either direction. Returns an unsubscribe function. */
  onConnection(fn: (conn: Connection) => void): () => void;
  use(mw: PipeMiddleware): void;
  connections(): Connection[];
  /** Closes every connection and stops listening. */
  close(): Promise<void>;
}
