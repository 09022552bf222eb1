import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { BaseTransport, type OpenedPipe, type TransportOptions } from './base-transport.js';
import { WireError, WireErrorCode } from './errors.js';
import type { Attestation, ListenOptions, PeerTarget, Pipe } from './interface.js';
import type { TLSSocket } from 'node:tls';
import { identityOfSubject } from './pki/identity.js';
import { CloseCode } from './messages.js';

/** Path of the cluster endpoint; other paths on the port are refused. */
export const WS_PATH = '/shoal/v1';

/** Dial target prefix of a unix socket ("unix:/run/x.sock"). */
export const UNIX_PREFIX = 'unix:';

export interface TlsOptions {
  /** Our key and certificate (a node joining has none yet: it dials without one). */
  key?: string | Buffer;
  cert?: string | Buffer;
  /**
   * CA bundle used to verify peers, both ways: a dialler verifies the
   * listener's certificate, and a listener given a CA asks every dialler for
   * a certificate that CA issued (mutual TLS) and refuses the handshake
   * otherwise.
   */
  ca?: string | Buffer;
  /** Verify the peer's certificate (default true when `ca` is given). */
  rejectUnauthorized?: boolean;
  /**
   * Listener: also accept diallers that present no certificate (a node
   * joining). They are anonymous — `peer.authenticated` is false — and the
   * transport's authorizer decides what they may send. A certificate that is
   * presented must still verify, or the connection is refused and counted.
   */
  allowAnonymous?: boolean;
  /**
   * Read the peer's node identity (CN = node ID, OU = role, O = cluster) from
   * its verified certificate; the handshake's claimed ID must then match it.
   */
  nodeIdentity?: boolean;
}

export interface WsTransportOptions extends TransportOptions {
  tls?: TlsOptions;
}

// WebSocket close codes we use (RFC 6455 §7.4 plus the private range).
const WS_NORMAL = 1000;
const WS_TOO_BIG = 1009;
const WS_PRIVATE_BASE = 4000;
const closeCodes = Object.values(CloseCode);
const BINARY = { binary: true } as const;

/**
 * WebSocket over TCP (optionally TLS). One server per node carries every
 * node-to-node stream; each ws message is one frame.
 */
export class WsTransport extends BaseTransport {
  readonly kind = 'ws' as const;
  private server: HttpServer | null = null;
  private wss: WebSocketServer | null = null;
  private tls: TlsOptions | undefined;

  constructor(opts: WsTransportOptions) {
    super(opts);
    this.tls = opts.tls;
  }

  /** New key and certificate (a renewal, a role change): used by new connections from now on, both ways. */
  updateTls(tls: TlsOptions): void {
    this.tls = { ...this.tls, ...tls };
    const server = this.server as (HttpServer & { setSecureContext?: (o: object) => void }) | null;
    server?.setSecureContext?.({ key: this.tls.key, cert: this.tls.cert, ...(this.tls.ca !== undefined ? { ca: this.tls.ca } : {}) });
  }

  async listen(opts: ListenOptions = {}): Promise<string> {
    if (this.server) throw new WireError(WireErrorCode.REGISTRY, 'already listening');
    const host = opts.host ?? '127.0.0.1';
    const tls = this.tls;
    const server = tls
      ? createHttpsServer({
          key: tls.key,
          cert: tls.cert,
          // With anonymous diallers allowed, TLS lets a certificate-less dialler in and we refuse bad certificates ourselves.
          ...(tls.ca !== undefined ? { ca: tls.ca, requestCert: true, rejectUnauthorized: tls.allowAnonymous ? false : (tls.rejectUnauthorized ?? true) } : {}),
        })
      : createHttpServer();
    const wss = new WebSocketServer({
      server,
      path: WS_PATH,
      // ws enforces the size while reading, before buffering a whole oversize message.
      maxPayload: this.options.maxFrameBytes,
      // Compression costs CPU on every Raft append for little gain on msgpack.
      perMessageDeflate: false,
    });
    wss.on('connection', (ws, req) => {
      if (this.closing) return ws.terminate();
      const addr = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
      let attested: Attestation | undefined;
      if (tls?.ca !== undefined) {
        const r = peerAttestation(req.socket as TLSSocket, tls);
        if (typeof r === 'string') {
          this.metrics.connectionsRefused++;
          ws.close(WS_PRIVATE_BASE + closeCodes.indexOf(CloseCode.handshakeFailed), r.slice(0, 123));
          setTimeout(() => ws.terminate(), 1000).unref();
          return;
        }
        attested = r ?? undefined;
      }
      this.adopt(wsPipe(ws, addr), false, undefined, attested);
    });
    wss.on('error', () => {}); // errors surface per socket; a server error must not crash the node
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      const ready = () => {
        server.off('error', reject);
        resolve();
      };
      if (opts.path !== undefined) server.listen(opts.path, ready);
      else server.listen(opts.port ?? 0, host, ready);
    });
    this.server = server;
    this.wss = wss;
    return this.address()!;
  }

  /** The bound "host:port" (or "unix:PATH"), once listening. */
  address(): string | null {
    const a = this.server?.address() as AddressInfo | string | null;
    if (!a) return null;
    return typeof a === 'string' ? `${UNIX_PREFIX}${a}` : `${a.address}:${a.port}`;
  }

  protected openPipe(target: PeerTarget, signal: AbortSignal): Promise<OpenedPipe> {
    const url = toUrl(target, this.tls !== undefined);
    const tls = this.tls;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, {
        maxPayload: this.options.maxFrameBytes,
        perMessageDeflate: false,
        ...(tls
          ? {
              ...(tls.key !== undefined ? { key: tls.key } : {}),
              ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
              ca: tls.ca,
              rejectUnauthorized: tls.rejectUnauthorized ?? tls.ca !== undefined,
              // Node certificates name node IDs, not host names: who answered is checked by the handshake against the certificate's CN.
              ...(tls.nodeIdentity ? { checkServerIdentity: acceptAnyName } : {}),
            }
          : {}),
      });
      const onAbort = () => {
        ws.terminate();
        reject(new WireError(WireErrorCode.TIMEOUT, `connecting to ${url} aborted`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      ws.once('open', () => {
        signal.removeEventListener('abort', onAbort);
        const s = (ws as unknown as { _socket?: { remoteAddress?: string; remotePort?: number; unref(): void } })._socket;
        if (this.unref) s?.unref();
        const pipe = wsPipe(ws, s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : url);
        let attested: Attestation | undefined;
        if (tls?.nodeIdentity && tls.ca !== undefined && s) {
          const r = peerAttestation(s as unknown as TLSSocket, tls);
          if (typeof r === 'string' || r === null) {
            ws.terminate();
            return reject(new WireError(WireErrorCode.HANDSHAKE_FAILED, `${url}: ${typeof r === 'string' ? r : 'the node presented no certificate'}`));
          }
          attested = r;
        }
        resolve({ pipe, ...(attested ? { attested } : {}) });
      });
      ws.once('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        reject(new WireError(WireErrorCode.CONNECT_FAILED, `cannot connect to ${url}: ${err.message}`));
      });
    });
  }

  protected async shutdown(): Promise<void> {
    const wss = this.wss;
    const server = this.server;
    this.wss = null;
    this.server = null;
    for (const ws of wss?.clients ?? []) ws.terminate();
    await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server?.closeAllConnections?.();
  }
}

/** Node's TLS treats a returned value as the error (ws's typing says boolean): nothing means the name is fine. */
const acceptAnyName = (() => undefined) as unknown as (servername: string, cert: unknown) => boolean;

/**
 * What a TLS peer proved: its identity from a certificate our CA issued, null
 * when it presented none, or why it is refused (a certificate that does not
 * verify, or one that names no node).
 */
function peerAttestation(socket: TLSSocket, tls: TlsOptions): Attestation | null | string {
  const cert = socket.getPeerCertificate?.();
  if (!cert || Object.keys(cert).length === 0) return null;
  if (!socket.authorized) return `certificate refused: ${String(socket.authorizationError ?? 'not issued by this cluster')}`;
  if (!tls.nodeIdentity) return {};
  const who = identityOfSubject(cert.subject as unknown as Record<string, string>);
  if (!who) return 'certificate refused: it names no node (CN node ID, OU role, O cluster)';
  return { nodeId: who.nodeId, role: who.role, clusterId: who.clusterId };
}

function toUrl(target: PeerTarget, tls: boolean): string {
  let addr: string;
  if (typeof target === 'string') addr = target;
  else if ('address' in target) addr = target.address;
  else throw new WireError(WireErrorCode.CONNECT_FAILED, 'the ws transport dials "host:port" addresses, not public keys or topics');
  // ws's own scheme for unix sockets: ws+unix:<socket path>:<request path>.
  if (addr.startsWith(UNIX_PREFIX)) return `ws+unix:${addr.slice(UNIX_PREFIX.length)}:${WS_PATH}`;
  if (/^wss?:\/\//.test(addr)) return addr.endsWith(WS_PATH) ? addr : addr.replace(/\/?$/, WS_PATH);
  return `${tls ? 'wss' : 'ws'}://${addr}${WS_PATH}`;
}

/** Adapts one WebSocket to the Pipe contract. */
function wsPipe(ws: WebSocket, remoteAddress: string): Pipe {
  let closedOnce = false;
  let lastError: string | null = null;
  let tooBig = false;
  // Only when something is already queued do we ask ws to tell us when this
  // frame is written: the common, unqueued case costs no callback.
  const onWritten = (): void => {
    if (ws.bufferedAmount === 0) pipe.onDrain?.();
  };
  const pipe: Pipe = {
    remoteAddress,
    onFrame: null,
    onClose: null,
    onDrain: null,
    send(frame) {
      if (ws.readyState !== WebSocket.OPEN) return;
      // Buffers are sent as binary messages by default; no options object to spread per frame.
      if (ws.bufferedAmount > 0) ws.send(frame, BINARY, onWritten);
      else ws.send(frame);
    },
    bufferedBytes: () => ws.bufferedAmount,
    close(code, reason) {
      if (ws.readyState === WebSocket.CLOSED || ws.readyState === WebSocket.CLOSING) return;
      const wsCode = code === CloseCode.normal ? WS_NORMAL : code === CloseCode.frameTooLarge ? WS_TOO_BIG : WS_PRIVATE_BASE + closeCodes.indexOf(code);
      // Close reasons are limited to 123 bytes by RFC 6455.
      ws.close(wsCode, Buffer.from(reason).subarray(0, 123).toString());
      // A peer that never answers the close handshake must not keep us waiting.
      setTimeout(() => ws.terminate(), 1000).unref();
    },
  };
  ws.on('message', (data: RawData) => {
    // With the default binaryType, `data` is a Buffer (fragments already joined).
    pipe.onFrame?.(data as Buffer);
  });
  ws.on('error', (err) => {
    // 'close' always follows; ws reports oversize messages here (code 1009).
    lastError = err.message;
    // ws enforces maxPayload itself and closes the socket; keep the real cause.
    if ((err as NodeJS.ErrnoException).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') tooBig = true;
  });
  ws.on('close', (code, reasonBuf) => {
    if (closedOnce) return;
    closedOnce = true;
    const reason =
      reasonBuf.toString() ||
      lastError ||
      (code === WS_TOO_BIG ? 'frame exceeds the maximum frame size' : code === 1006 ? 'connection lost' : `closed with code ${code}`);
    pipe.onClose?.(tooBig ? CloseCode.frameTooLarge : fromWsCode(code), tooBig ? `received a frame over the maximum frame size (${reason})` : reason);
  });
  return pipe;
}

function fromWsCode(code: number): CloseCode {
  if (code === WS_NORMAL) return CloseCode.normal;
  if (code === WS_TOO_BIG) return CloseCode.frameTooLarge;
  if (code >= WS_PRIVATE_BASE && code < WS_PRIVATE_BASE + closeCodes.length) return closeCodes[code - WS_PRIVATE_BASE]!;
  return CloseCode.transportError;
}
