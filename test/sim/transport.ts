/**
 * The product's wire (BaseTransport → FrameConnection: codec, handshake,
 * keepalive, requests, streams) over a simulated network, so the whole-
 * cluster simulation runs the real dispatcher, lease, session and lease
 * keeper against each other on simulated time.
 *
 * A pipe behaves like a TCP connection, not like datagrams:
 * - frames arrive in order, each after the network's delay;
 * - a lost segment is retransmitted: it arrives late, never not at all;
 * - across a partition nothing arrives, and frames wait (in order) until it
 *   heals, unless the connection is closed first: the product's keepalive
 *   and idle timeout (wire/options.ts), on the simulated clock, decide that;
 * - a process that crashes while its machine stays up closes its
 *   connections (the kernel's FIN/RST reaches the peer after the delay); a
 *   machine that dies says nothing, and its peers find out by idle timeout;
 * - dialling a live process connects after a round trip; a machine that is
 *   up with nothing listening refuses; a dead or cut-off machine never
 *   answers (the dialler's connect timeout gives up).
 *
 * Identity: each side is attested as the node it is (as a node certificate
 * would prove on TLS), so the dispatcher's and lease's impersonation checks
 * hold here too.
 */
import { BaseTransport, type OpenedPipe } from '../../src/wire/base-transport.js';
import type { ListenOptions, PeerTarget, Pipe } from '../../src/wire/interface.js';
import type { CloseCode } from '../../src/wire/messages.js';
import type { Timers } from '../../src/util/timers.js';
import { WireError, WireErrorCode } from '../../src/wire/errors.js';

/** How the simulated network treats a frame between two nodes. */
export interface SimLinks {
  /** True while a partition stands between nodes a and b. */
  cut(a: string, b: string): boolean;
  /** One-way delay of a frame, ms (a lost segment's retransmission included). */
  delay(): number;
}

/** While a partition stands, a waiting frame is tried again this often (TCP's retransmissions, coarsely). */
const RETRY_MS = 50;

export class SimNetwork {
  /** Listening transports by address (the address is the node id). */
  private readonly listening = new Map<string, SimTransport>();
  /** Machines that are down (no answer at all, not even a refusal). */
  private readonly down = new Set<string>();
  /** Every open pipe end, by the process (transport) it belongs to (for crashes). */
  private readonly ends = new Map<SimTransport, Set<SimPipe>>();

  constructor(
    readonly timers: Timers,
    readonly links: SimLinks,
  ) {}

  listen(addr: string, t: SimTransport): void {
    this.listening.set(addr, t);
  }

  unlisten(addr: string, t: SimTransport): void {
    if (this.listening.get(addr) === t) this.listening.delete(addr);
  }

  /** The machine is up again (its processes start afresh). */
  machineUp(node: string): void {
    this.down.delete(node);
  }

  /**
   * A node's process dies. With `machine`, the whole machine: its peers hear
   * nothing. Otherwise the kernel closes its connections and the peers are
   * told after the network's delay.
   */
  crash(node: string, machine: boolean): void {
    if (machine) this.down.add(node);
    for (const t of [...this.ends.keys()]) if (t.nodeId === node) this.crashProcess(t, !machine);
    this.listening.delete(node);
  }

  /** One process of a machine that stays up dies (a node daemon beside its surviving task supervisor): its connections close. */
  crashProcess(t: SimTransport, fin = true): void {
    const mine = this.ends.get(t);
    this.ends.delete(t);
    this.unlisten(t.nodeId, t);
    for (const end of mine ?? []) end.die(fin);
  }

  track(end: SimPipe): void {
    let s = this.ends.get(end.owner);
    if (!s) this.ends.set(end.owner, (s = new Set()));
    s.add(end);
  }

  untrack(end: SimPipe): void {
    this.ends.get(end.owner)?.delete(end);
  }

  /** Dials `to` from `from`: a pipe end for the dialler once the other side accepted, or a refusal. */
  dial(from: SimTransport, to: string, signal: AbortSignal): Promise<OpenedPipe> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const give = (fn: () => void) => {
        if (settled) return;
        settled = true;
        fn();
      };
      signal.addEventListener('abort', () => give(() => reject(new WireError(WireErrorCode.CONNECT_FAILED, `no answer from ${to}`))), { once: true });
      // The SYN's trip; a partition or a dead machine swallows it (the dialler's timeout ends the wait).
      this.timers.setTimeout(() => {
        if (settled || this.links.cut(from.nodeId, to) || this.down.has(to) || this.down.has(from.nodeId)) return;
        const server = this.listening.get(to);
        // The answer's trip back.
        this.timers.setTimeout(() => {
          if (settled || this.links.cut(from.nodeId, to) || this.down.has(from.nodeId)) return;
          if (!server || this.listening.get(to) !== server) {
            give(() => reject(new WireError(WireErrorCode.CONNECT_FAILED, `connection refused by ${to}`)));
            return;
          }
          const a = new SimPipe(this, from, to);
          const b = new SimPipe(this, server, from.nodeId);
          a.peer = b;
          b.peer = a;
          give(() => {
            server.accept(b, from.nodeId);
            resolve({ pipe: a, attested: { nodeId: to } });
          });
        }, this.links.delay());
      }, this.links.delay());
    });
  }
}

interface Item {
  at: number;
  frame?: Uint8Array;
  close?: { code: CloseCode; reason: string };
}

/** One end of a simulated TCP connection. */
export class SimPipe implements Pipe {
  peer!: SimPipe;
  onFrame: ((frame: Uint8Array) => void) | null = null;
  onClose: ((code: CloseCode, reason: string) => void) | null = null;
  onDrain: (() => void) | null = null;
  readonly remoteAddress: string;
  /** No more frames in either direction from this end's point of view. */
  private ended = false;
  /** The process that owned this end is gone: nothing reaches it anymore. */
  private dead = false;
  /** Frames (and a close) on their way to the peer, in order. */
  private readonly outbound: Item[] = [];
  private pumping = false;
  private lastAt = 0;

  readonly local: string;

  constructor(
    private readonly net: SimNetwork,
    /** The process this end belongs to. */
    readonly owner: SimTransport,
    readonly remote: string,
  ) {
    this.local = owner.nodeId;
    this.remoteAddress = remote;
    net.track(this);
  }

  send(frame: Uint8Array): void {
    if (this.ended) return;
    this.enqueue({ at: 0, frame });
  }

  bufferedBytes(): number {
    return 0;
  }

  close(code: CloseCode, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.net.untrack(this);
    this.enqueue({ at: 0, close: { code, reason } });
    // Our side learns the close at once (the socket is gone for us), later than now, as ws does.
    this.net.timers.setTimeout(() => this.onClose?.(code, reason), 0);
  }

  /** The owning process died: with `fin`, the kernel tells the peer; the end itself goes silent. */
  die(fin: boolean): void {
    this.dead = true;
    this.outbound.length = 0;
    if (this.ended) return;
    this.ended = true;
    if (fin) this.enqueue({ at: 0, close: { code: 'transport-error', reason: `connection reset (${this.local} went away)` } });
  }

  private enqueue(it: Item): void {
    const timers = this.net.timers;
    // In order: never before the frame ahead of it.
    it.at = Math.max(timers.now() + this.net.links.delay(), this.lastAt);
    this.lastAt = it.at;
    this.outbound.push(it);
    if (!this.pumping) {
      this.pumping = true;
      timers.setTimeout(() => this.pump(), it.at - timers.now());
    }
  }

  private pump(): void {
    const timers = this.net.timers;
    this.pumping = false;
    while (this.outbound.length > 0 && this.outbound[0]!.at <= timers.now()) {
      if (this.net.links.cut(this.local, this.remote)) {
        this.pumping = true;
        timers.setTimeout(() => this.pump(), RETRY_MS);
        return;
      }
      const it = this.outbound.shift()!;
      this.peer.receive(it);
    }
    if (this.outbound.length > 0) {
      this.pumping = true;
      timers.setTimeout(() => this.pump(), this.outbound[0]!.at - timers.now());
    }
  }

  private receive(it: Item): void {
    if (this.dead) return;
    if (it.close) {
      if (this.ended) return;
      this.ended = true;
      this.net.untrack(this);
      this.outbound.length = 0;
      this.onClose?.(it.close.code, it.close.reason);
      return;
    }
    if (!this.ended && it.frame) this.onFrame?.(it.frame);
  }
}

/** A node's transport on the simulated network: its address is its node id. */
export class SimTransport extends BaseTransport {
  readonly kind = 'ws' as const;
  private listeningOn = false;

  /** `timers`: the owning process's (its timers die with it); the network's pipes run on the network's own. */
  constructor(
    private readonly net: SimNetwork,
    nodeId: string,
    timers: Timers,
  ) {
    super({ nodeId, timers });
  }

  async listen(_opts?: ListenOptions): Promise<string> {
    this.net.listen(this.nodeId, this);
    this.listeningOn = true;
    return this.nodeId;
  }

  protected openPipe(target: PeerTarget, signal: AbortSignal): Promise<OpenedPipe> {
    if (typeof target !== 'string') return Promise.reject(new WireError(WireErrorCode.CONNECT_FAILED, 'the simulated network dials node ids only'));
    return this.net.dial(this, target, signal);
  }

  /** The network hands us the accepting end of a new connection from `from`. */
  accept(pipe: SimPipe, from: string): void {
    this.adopt(pipe, false, undefined, { nodeId: from });
  }

  protected async shutdown(): Promise<void> {
    if (this.listeningOn) this.net.unlisten(this.nodeId, this);
    this.listeningOn = false;
  }
}
