import HyperDHT from 'hyperdht';
import Hyperswarm from 'hyperswarm';
import { BaseTransport, type OpenedPipe, type TransportOptions } from './base-transport.js';
import { WireError, WireErrorCode } from './errors.js';
import type { Attestation, ListenOptions, PeerTarget, Pipe } from './interface.js';
import { CloseCode } from './messages.js';
import { checkBinding, makeBinding, type BindingMaterial } from './pki/noise-binding.js';

export interface DhtNode {
  host: string;
  port: number;
}

export interface KeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}

export interface HyperswarmTransportOptions extends TransportOptions {
  /**
   * DHT bootstrap nodes. Required and explicit: a Shoal node never falls back
   * to the public DHT. Managers run the bootstrap nodes themselves; `[]`
   * makes this node a standalone DHT (it can still be dialled directly).
   */
  bootstrap: DhtNode[];
  /** The node's Noise static key pair; the public key is its authenticated identity. */
  keyPair?: KeyPair;
  /** Interface the DHT's UDP socket binds to. Default 127.0.0.1. */
  host?: string;
  /** UDP port of the DHT node (0 = any). */
  port?: number;
  /**
   * Serve the DHT for others (routing, announces, bootstrap). Managers do;
   * workers and short-lived processes should not, so that when they die they
   * leave no stale entries in everyone's routing tables. Default false.
   */
  dhtServer?: boolean;
  /**
   * The node's certificate (pki/noise-binding.ts): when set, every Noise
   * session starts with both sides proving a certificate of the cluster,
   * bound to the session's keys, and a peer is who its certificate says.
   * Without it a peer is known only by its Noise key.
   */
  certificate?: BindingMaterial;
}

// Noise secret-stream frames carry a 3-byte length and a 17-byte auth tag:
// a message larger than this cannot be written atomically.
const SECRET_STREAM_MAX = 256 * 256 * 256 - 1 - 17;

interface SecretStream {
  readonly remotePublicKey: Buffer;
  readonly isInitiator: boolean;
  readonly rawStream?: { remoteHost?: string; remotePort?: number };
  readonly _writableState?: { buffered?: number };
  write(data: Uint8Array): boolean;
  end(): void;
  destroy(err?: Error): void;
  on(event: string, fn: (...args: never[]) => void): void;
  once(event: string, fn: (...args: never[]) => void): void;
  off(event: string, fn: (...args: never[]) => void): void;
}

interface TopicWaiter {
  topic: string;
  resolve: (p: OpenedPipe) => void;
}

/**
 * hyperswarm/hyperdht with Noise: every connection is end-to-end encrypted
 * and the peer's static public key is authenticated by the handshake. Peers
 * are reached directly by public key (optionally with the address of their
 * DHT node, which skips the lookup) or discovered by topic.
 */
export class HyperswarmTransport extends BaseTransport {
  readonly kind = 'hyperswarm' as const;
  readonly keyPair: KeyPair;
  readonly dht: HyperDHT;
  private swarm: Hyperswarm | null = null;
  private readonly topicWaiters: TopicWaiter[] = [];
  private certificate: BindingMaterial | undefined;

  constructor(opts: HyperswarmTransportOptions) {
    if (!Array.isArray(opts.bootstrap)) {
      throw new WireError(WireErrorCode.REGISTRY, 'hyperswarm transport needs an explicit bootstrap list ([] or our own nodes)');
    }
    super({
      ...opts,
      connection: {
        ...opts.connection,
        maxFrameBytes: Math.min(opts.connection?.maxFrameBytes ?? SECRET_STREAM_MAX, SECRET_STREAM_MAX),
      },
    });
    this.keyPair = opts.keyPair ?? (HyperDHT.keyPair() as KeyPair);
    this.certificate = opts.certificate;
    this.dht = new HyperDHT({
      bootstrap: opts.bootstrap.map((n) => ({ host: n.host, port: n.port })),
      keyPair: this.keyPair,
      host: opts.host ?? '127.0.0.1',
      port: opts.port ?? 0,
      ephemeral: !opts.dhtServer,
      ...(opts.dhtServer ? { firewalled: false } : {}),
    });
  }

  /** A renewed certificate (or a rotated trust bundle): new sessions bind with it. */
  updateCertificate(m: BindingMaterial): void {
    this.certificate = m;
  }

  /**
   * The certificate binding at the start of a Noise session: send ours,
   * check theirs (the first message), then `bound` with who the peer is —
   * synchronously, so the caller adopts the session before any later
   * message is handled (those wait in `early` until the pipe has a reader).
   * Without a certificate configured, the peer is its Noise key.
   */
  private bind(socket: SecretStream, bound: (a: Attestation, early: Buffer[]) => void, refused: (why: string) => void): void {
    const m = this.certificate;
    if (!m) return bound({ publicKey: socket.remotePublicKey }, []);
    let done = false;
    const early: Buffer[] = [];
    const finish = (why: string | null, a?: Attestation) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.off('close', onClose);
      if (why !== null) {
        socket.off('data', onData);
        this.metrics.handshakeFailures++;
        socket.destroy();
        return refused(why);
      }
      // Messages after the binding go to the pipe; until it is made, they queue.
      socket.off('data', onData);
      bound(a!, early);
    };
    let first = true;
    const onData = (msg: Buffer) => {
      if (!first) return void early.push(msg);
      first = false;
      const who = checkBinding(msg, m.ca, socket.remotePublicKey, this.keyPair.publicKey);
      if (typeof who === 'string') return finish(`certificate binding refused: ${who}`);
      finish(null, { nodeId: who.nodeId, role: who.role, clusterId: who.clusterId, publicKey: socket.remotePublicKey });
    };
    const onClose = () => finish('the peer closed the session during the certificate binding');
    // A refused or reset session errors after we let go of it: that must never reach the process (an uncaught 'error').
    socket.on('error', () => {});
    const timer = setTimeout(() => finish(`no certificate binding within ${this.options.handshakeTimeoutMs} ms`), this.options.handshakeTimeoutMs);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(makeBinding(m, this.keyPair.publicKey, socket.remotePublicKey));
  }

  /** The hex public key others dial, with this node's DHT address as a hint. */
  get publicKeyHex(): string {
    return this.keyPair.publicKey.toString('hex');
  }

  async listen(opts: ListenOptions = {}): Promise<string> {
    await this.dht.ready();
    const swarm = this.ensureSwarm();
    await swarm.listen();
    if (opts.topic !== undefined) await swarm.join(toTopic(opts.topic), { server: true, client: false }).flushed();
    const a = this.dht.address();
    return `${this.publicKeyHex}@${a.host}:${a.port}`;
  }

  /** Address of this node's DHT socket (use it as a bootstrap node for others). */
  dhtAddress(): DhtNode {
    const a = this.dht.address();
    return { host: a.host, port: a.port };
  }

  private ensureSwarm(): Hyperswarm {
    if (this.swarm) return this.swarm;
    const swarm = new Hyperswarm({ dht: this.dht, keyPair: this.keyPair });
    swarm.on('connection', (socket: SecretStream, info: { topics?: Buffer[] }) => {
      if (this.closing) return socket.destroy();
      if (!socket.isInitiator) {
        this.bind(
          socket,
          (attested, early) => void this.adopt(secretPipe(socket, early), false, undefined, attested),
          () => {},
        );
        return;
      }
      // An outbound connection the swarm made for a topic we joined as client.
      const topics = (info.topics ?? []).map((t) => t.toString('hex'));
      const i = this.topicWaiters.findIndex((w) => topics.length === 0 || topics.includes(w.topic));
      if (i < 0) return socket.destroy();
      const [w] = this.topicWaiters.splice(i, 1);
      this.bind(
        socket,
        (attested, early) => w!.resolve({ pipe: secretPipe(socket, early), attested }),
        () => {},
      );
    });
    this.swarm = swarm;
    return swarm;
  }

  protected async openPipe(target: PeerTarget, signal: AbortSignal): Promise<OpenedPipe> {
    await this.dht.ready();
    if (typeof target === 'object' && 'topic' in target) return this.openTopic(toTopic(target.topic), signal);
    const { key, hint } = parseKeyTarget(target);
    const socket = this.dht.connect(key, {
      keyPair: this.keyPair,
      ...(hint ? { relayAddresses: [hint] } : {}),
    }) as unknown as SecretStream;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        signal.removeEventListener('abort', onAbort);
        socket.off('open', onOpen);
        socket.off('error', onError);
        socket.off('close', onClose);
      };
      const onAbort = () => {
        cleanup();
        socket.destroy();
        reject(new WireError(WireErrorCode.TIMEOUT, 'connect aborted'));
      };
      const onOpen = () => {
        cleanup();
        this.bind(
          socket,
          (attested, early) => resolve({ pipe: secretPipe(socket, early), attested }),
          (why) => reject(new WireError(WireErrorCode.CONNECT_FAILED, `${key.toString('hex').slice(0, 16)}…: ${why}`)),
        );
      };
      const onError = (err: Error) => {
        cleanup();
        reject(new WireError(WireErrorCode.CONNECT_FAILED, `cannot connect to ${key.toString('hex').slice(0, 16)}…: ${err.message}`));
      };
      const onClose = () => onError(new Error('closed before open'));
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('open', onOpen);
      socket.on('error', onError);
      socket.on('close', onClose);
    });
  }

  private async openTopic(topic: Buffer, signal: AbortSignal): Promise<OpenedPipe> {
    const swarm = this.ensureSwarm();
    const hex = topic.toString('hex');
    const discovery = swarm.join(topic, { server: false, client: true });
    try {
      return await new Promise<OpenedPipe>((resolve, reject) => {
        const w: TopicWaiter = { topic: hex, resolve };
        this.topicWaiters.push(w);
        signal.addEventListener(
          'abort',
          () => {
            const i = this.topicWaiters.indexOf(w);
            if (i >= 0) this.topicWaiters.splice(i, 1);
            reject(new WireError(WireErrorCode.TIMEOUT, `no peer found on topic ${hex.slice(0, 16)}…`));
          },
          { once: true },
        );
      });
    } finally {
      // One connection per connect(): stop the swarm from dialling more peers of the topic.
      if (!this.topicWaiters.some((w) => w.topic === hex)) await discovery.destroy().catch(() => {});
    }
  }

  protected async shutdown(): Promise<void> {
    for (const w of this.topicWaiters.splice(0)) void w;
    if (this.swarm) await this.swarm.destroy().catch(() => {});
    await this.dht.destroy().catch(() => {});
  }
}

function toTopic(t: Uint8Array | string): Buffer {
  const b = typeof t === 'string' ? (/^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : null) : Buffer.from(t);
  if (!b || b.length !== 32) throw new WireError(WireErrorCode.CONNECT_FAILED, 'a topic is 32 bytes (or 64 hex characters)');
  return b;
}

/** Accepts "hex", "hex@host:port", a Buffer, or {publicKey, host, port}. */
function parseKeyTarget(target: PeerTarget): { key: Buffer; hint?: DhtNode } {
  let keyPart: Uint8Array | string;
  let hint: DhtNode | undefined;
  if (typeof target === 'string') {
    const [k, addr] = target.split('@');
    keyPart = k!;
    if (addr) hint = parseHostPort(addr);
  } else if ('publicKey' in target) {
    keyPart = target.publicKey;
    if (target.host && target.port) hint = { host: target.host, port: target.port };
  } else if ('address' in target) {
    return parseKeyTarget(target.address);
  } else {
    throw new WireError(WireErrorCode.CONNECT_FAILED, 'unsupported target');
  }
  const key = typeof keyPart === 'string' ? Buffer.from(/^[0-9a-f]{64}$/i.test(keyPart) ? keyPart : '', 'hex') : Buffer.from(keyPart);
  if (key.length !== 32) throw new WireError(WireErrorCode.CONNECT_FAILED, 'a hyperswarm peer is addressed by its 32-byte public key (64 hex characters)');
  return hint ? { key, hint } : { key };
}

function parseHostPort(s: string): DhtNode {
  const i = s.lastIndexOf(':');
  const port = Number(s.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new WireError(WireErrorCode.CONNECT_FAILED, `bad address hint ${JSON.stringify(s)}: expected host:port`);
  }
  return { host: s.slice(0, i), port };
}

/**
 * Adapts a Noise secret stream (message-framed) to the Pipe contract.
 * `early`: messages that arrived before the pipe existed (after the
 * certificate binding), handed to the reader as soon as it is set.
 */
function secretPipe(socket: SecretStream, early: Buffer[] = []): Pipe {
  let closedOnce = false;
  let lastError: string | null = null;
  const raw = socket.rawStream;
  let reader: Pipe['onFrame'] = null;
  const pipe: Pipe = {
    ...(raw?.remoteHost ? { remoteAddress: `${raw.remoteHost}:${raw.remotePort}` } : {}),
    remotePublicKey: socket.remotePublicKey,
    get onFrame() {
      return reader;
    },
    set onFrame(fn) {
      reader = fn;
      while (fn && early.length > 0) fn(early.shift()!);
    },
    onClose: null,
    onDrain: null,
    send(frame) {
      if (closedOnce) return;
      socket.write(frame);
    },
    bufferedBytes: () => socket._writableState?.buffered ?? 0,
    close() {
      if (closedOnce) return;
      // end() flushes what was written (the goodbye frame) before closing.
      socket.end();
      setTimeout(() => socket.destroy(), 1000).unref();
    },
  };
  socket.on('data', (data: Buffer) => (early.length > 0 || !reader ? early.push(data) : reader(data)));
  socket.on('drain', () => pipe.onDrain?.());
  socket.on('error', (err: Error) => {
    lastError = err.message;
  });
  // The peer ended its side: end ours too, so 'close' follows.
  socket.on('end', () => socket.end());
  socket.on('close', () => {
    if (closedOnce) return;
    closedOnce = true;
    pipe.onClose?.(lastError ? CloseCode.transportError : CloseCode.normal, lastError ?? 'stream closed');
  });
  return pipe;
}
