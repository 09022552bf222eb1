import type { MessageType } from '../wire/registry.js';
import { GossipError } from './errors.js';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { Packr, Unpackr } from '../util/msgpack.js';
import { systemRng, type Rng } from '../util/rng.js';
import { Codec, FrameKind } from '../wire/codec.js';
import { isWireError } from '../wire/errors.js';
import type { Transport } from '../wire/interface.js';
import { validate } from '../wire/schema.js';
import { createGossipNode, type GossipCore } from './core.js';
import type { Addr, GossipEvent, GossipMessage, MemberRecord, NodeMeta, OutPacket, Role, PushPullRequest, PushPullState, SelfConfig } from './interface.js';
import { Keyring } from './keyring.js';
import { pushPullStateSchema } from './messages.js';
import { resolveOptions, type GossipOptions, type ProfileName } from './options.js';
import { GossipPacketWire, PushPullWire } from './transport.js';
import { componentLogger, type Logger } from '../util/log/interface.js';

export interface GossipDriverOptions {
  self: SelfConfig;
  keyring: Keyring;
  /** The cluster Transport (push-pull runs over it). Its listen address must be `self.clusterAddr`. */
  transport: Transport;
  profile?: ProfileName;
  options?: Partial<GossipOptions>;
  rng?: Rng;
  /** Records carry component=gossip. */
  log?: Logger;
  /**
   * Fault injection (the chaos harness only): return false to drop a
   * datagram to or from `addr`, so a partition also cuts gossip, which runs
   * over UDP rather than the cluster Transport. Absent = nothing is dropped.
   */
  packetFilter?: (dir: 'in' | 'out', addr: Addr) => boolean;
}

/** Transport-level counters; the core keeps its own (`core.metrics`). */
export interface GossipDriverMetrics {
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Datagrams that no key of the ring could open: wrong key, tampering, or noise. */
  droppedUnauthenticated: number;
  /** Authentic datagrams opened before (a replay) or stamped outside the replay window (keyring.ts). */
  droppedReplayed: number;
  /** Authenticated datagrams whose frame did not decode or validate. */
  droppedMalformed: number;
  /** Packets the core estimated to fit but that sealed over the MTU, and were split. */
  packetSplits: number;
  /** Largest datagram sent: never above maxPacketBytes. */
  largestDatagram: number;
  pushPullsOut: number;
  pushPullsIn: number;
  pushPullFailures: number;
  /** Push-pull requests refused because their state did not authenticate. */
  pushPullsUnauthenticated: number;
}

/** Zeroed transport-level counters (also the exporter's list of them). */
export function newGossipDriverMetrics(): GossipDriverMetrics {
  return {
    datagramsIn: 0,
    datagramsOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    droppedUnauthenticated: 0,
    droppedReplayed: 0,
    droppedMalformed: 0,
    packetSplits: 0,
    largestDatagram: 0,
    pushPullsOut: 0,
    pushPullsIn: 0,
    pushPullFailures: 0,
    pushPullsUnauthenticated: 0,
  };
}

const statePackr = new Packr({ useRecords: true });
const stateUnpackr = new Unpackr({ useRecords: true, moreTypes: false, structuredClone: false });

/**
 * Runs a pure GossipCore: a UDP socket for probes and piggybacked
 * dissemination (datagrams sealed with the cluster key, at most
 * `maxPacketBytes`), one timer re-armed at the core's next deadline, and
 * push-pull over the cluster Transport.
 */
export class GossipDriver {
  readonly metrics: GossipDriverMetrics = newGossipDriverMetrics();
  readonly core: GossipCore;
  private readonly socket: dgram.Socket;
  private readonly codec: Codec;
  private readonly maxPacketBytes: number;
  private readonly listeners: ((e: GossipEvent) => void)[] = [];
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly t0 = performance.now();
  private readonly logger: Logger;

  private constructor(private readonly opts: GossipDriverOptions, socket: dgram.Socket) {
    this.logger = componentLogger(opts.log, 'gossip');
    const options = resolveOptions(opts.options ?? {}, opts.profile ?? 'lan');
    this.maxPacketBytes = options.maxPacketBytes;
    this.codec = new Codec({ maxFrameBytes: options.maxPacketBytes });
    // Datagrams arrive with no handler registration to learn their type from.
    this.codec.registry.add(GossipPacketWire as MessageType);
    this.socket = socket;
    this.core = createGossipNode({ self: opts.self, rng: opts.rng ?? systemRng(), nowMs: this.now(), options });
  }

  /** Binds the UDP socket at `self.addr` and starts the protocol. Call `join` next (or not, for the first node). */
  static async start(opts: GossipDriverOptions): Promise<GossipDriver> {
    const { host, port } = splitAddr(opts.self.addr);
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const d = new GossipDriver(opts, socket);
    socket.on('message', (buf, rinfo) => d.onDatagram(buf, `${rinfo.address}:${rinfo.port}`));
    socket.on('error', (err) => d.logger.warn(`udp socket error: ${err.message}`));
    opts.transport.onRequest(PushPullWire, (body) => d.servePushPull(body.sealed));
    d.pump();
    return d;
  }

  // ------------------------------------------------------------------ API

  join(seeds: Addr[]): void {
    this.core.join(seeds.filter((s) => s !== this.opts.self.addr));
    this.pump();
  }

  /** Gossips our departure and waits (bounded) until it has been sent enough times. */
  async leave(timeoutMs = 3_000): Promise<void> {
    this.core.leave();
    this.pump();
    const deadline = Date.now() + timeoutMs;
    while (!this.core.leaveBroadcastDone() && Date.now() < deadline && !this.stopped) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  broadcast(payload: Uint8Array): number {
    const seq = this.core.broadcast(payload);
    this.pump();
    return seq;
  }

  updateMeta(meta: NodeMeta): void {
    this.core.updateMeta(meta);
    this.pump();
  }

  updateRole(role: Role): void {
    this.core.updateRole(role);
    this.pump();
  }

  onEvent(fn: (e: GossipEvent) => void): void {
    this.listeners.push(fn);
  }

  members(): MemberRecord[] {
    return this.core.members();
  }

  get keyring(): Keyring {
    return this.opts.keyring;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.opts.transport.off(PushPullWire);
    await new Promise<void>((r) => this.socket.close(() => r()));
  }

  // ------------------------------------------------------------- internals

  private now(): number {
    return performance.now() - this.t0;
  }

  private onDatagram(buf: Buffer, from: Addr): void {
    if (this.stopped) return;
    if (this.opts.packetFilter && !this.opts.packetFilter('in', from)) return;
    this.metrics.datagramsIn++;
    this.metrics.bytesIn += buf.length;
    const ks = this.opts.keyring.stats;
    const refusedBefore = ks.replayed + ks.stale;
    const frame = this.opts.keyring.open(buf);
    if (!frame) {
      if (ks.replayed + ks.stale > refusedBefore) this.metrics.droppedReplayed++;
      else this.metrics.droppedUnauthenticated++;
      return;
    }
    let msgs: GossipMessage[];
    try {
      const env = this.codec.decode(frame);
      if (env.t !== GossipPacketWire.name || env.k !== FrameKind.Message) throw new Error(`unexpected ${env.t}`);
      msgs = (env.b as { msgs: GossipMessage[] }).msgs;
    } catch (err) {
      if (!isWireError(err)) this.logger.warn(`gossip datagram: ${(err as Error).message}`);
      this.metrics.droppedMalformed++;
      return;
    }
    this.core.tick(this.now());
    this.core.receive(from, msgs);
    this.pump();
  }

  /** Ticks the core, carries out its Ready, and re-arms the timer at its next deadline. */
  private pump(): void {
    if (this.stopped) return;
    this.core.tick(this.now());
    while (this.core.hasReady()) {
      const rd = this.core.ready();
      for (const p of rd.packets) this.sendPacket(p.to, p.messages);
      for (const pp of rd.pushPulls) void this.pushPull(pp);
      for (const e of rd.events) for (const fn of this.listeners) fn(e);
    }
    if (this.timer) clearTimeout(this.timer);
    const wait = Math.max(1, Math.min(this.core.nextDeadline() - this.now(), 1_000));
    this.timer = setTimeout(() => this.pump(), wait);
  }

  private sendPacket(to: Addr, msgs: OutPacket['messages']): void {
    const frame = this.codec.encode(FrameKind.Message, GossipPacketWire.name, 0, { type: 'compound', msgs });
    const sealed = this.opts.keyring.seal(frame);
    if (sealed.length > this.maxPacketBytes) {
      // The core's size estimate was off: never exceed the MTU, split instead.
      if (msgs.length === 1) {
        this.logger.warn(`dropping a ${msgs[0]!.type} message that alone exceeds ${this.maxPacketBytes} bytes`);
        return;
      }
      this.metrics.packetSplits++;
      const half = Math.ceil(msgs.length / 2);
      this.sendPacket(to, msgs.slice(0, half));
      this.sendPacket(to, msgs.slice(half));
      return;
    }
    if (this.opts.packetFilter && !this.opts.packetFilter('out', to)) return;
    const { host, port } = splitAddr(to);
    this.metrics.datagramsOut++;
    this.metrics.bytesOut += sealed.length;
    if (sealed.length > this.metrics.largestDatagram) this.metrics.largestDatagram = sealed.length;
    this.socket.send(sealed, port, host, (err) => {
      if (err && !this.stopped) this.logger.debug({ to }, `udp send to ${to}: ${err.message}`);
    });
  }

  private sealState(state: PushPullState): Buffer {
    return this.opts.keyring.seal(statePackr.pack(state));
  }

  private openState(sealed: Uint8Array): PushPullState | null {
    const plain = this.opts.keyring.open(sealed);
    if (!plain) return null;
    let state: unknown;
    try {
      state = stateUnpackr.unpack(plain);
    } catch {
      return null;
    }
    return validate(pushPullStateSchema, state) === null ? (state as PushPullState) : null;
  }

  private async pushPull(pp: PushPullRequest): Promise<void> {
    // A join seed is known only by its gossip address; by convention the
    // cluster port is the same number on the same host (DESIGN.md).
    const target = pp.clusterAddr || pp.to;
    this.metrics.pushPullsOut++;
    try {
      const conn = await this.opts.transport.connect(target, { timeoutMs: 2_000, ...(pp.id ? { expectNodeId: pp.id } : {}) });
      try {
        const res = await conn.request(PushPullWire, { sealed: this.sealState(pp.state) }, { timeoutMs: 5_000 });
        const remote = this.openState(res.sealed);
        if (!remote) throw new GossipError('UNAUTHENTICATED', 'the peer answered with a state our keys cannot open');
        if (this.stopped) return;
        this.core.tick(this.now());
        this.core.mergeRemoteState(remote);
        this.pump();
      } finally {
        conn.close('push-pull done');
      }
    } catch (err) {
      this.metrics.pushPullFailures++;
      this.logger.info({ peer: target }, `push-pull with ${target} failed: ${(err as Error).message}`);
    }
  }

  private servePushPull(sealed: Uint8Array): { sealed: Buffer } {
    if (this.stopped) throw new GossipError('STOPPED', 'gossip stopped');
    this.metrics.pushPullsIn++;
    const remote = this.openState(sealed);
    if (!remote) {
      this.metrics.pushPullsUnauthenticated++;
      throw new GossipError('UNAUTHENTICATED', 'push-pull state did not authenticate with the cluster gossip key');
    }
    this.core.tick(this.now());
    const ours = this.core.handlePushPull(remote);
    this.pump();
    return { sealed: this.sealState(ours) };
  }

}

function splitAddr(a: Addr): { host: string; port: number } {
  const i = a.lastIndexOf(':');
  const port = Number(a.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`bad address ${JSON.stringify(a)}: expected host:port`);
  return { host: a.slice(0, i), port };
}
