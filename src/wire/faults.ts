import { systemRng, type Rng } from '../util/rng.js';
import type { NodeId, Pipe, PipeContext, PipeMiddleware, Transport } from './interface.js';

/** Faults applied to frames on one directed link. Probabilities are per frame. */
export interface LinkFaults {
  /** Probability a frame is silently lost. */
  drop?: number;
  /** Fixed extra latency per frame, ms. */
  delayMs?: number;
  /** Uniform random extra latency in [0, jitterMs]; frames may overtake each other. */
  jitterMs?: number;
  /** Probability a frame is delivered twice. */
  duplicate?: number;
  /** Probability a frame is held back and delivered after the next one. */
  reorder?: number;
}

type Side = '*' | ReadonlySet<NodeId>;

interface Block {
  from: Side;
  to: Side;
}

interface LinkRule {
  from: NodeId | '*';
  to: NodeId | '*';
  faults: LinkFaults;
}

export interface FaultStats {
  dropped: number;
  partitioned: number;
  delayed: number;
  duplicated: number;
  reordered: number;
}

/**
 * Runtime-switchable fault injection for any Transport. Faults act on
 * outbound frames at the Pipe level, keyed by (local node, peer node), so the
 * same controller can drive every node of an in-process test, and a chaos
 * harness can push the same partition spec into every process: each side
 * drops what it sends across the cut.
 *
 * A partition does not close connections by itself: keepalives stop
 * arriving, the idle timeout fires, and redials fail their handshake — the
 * same sequence a real network partition produces.
 */
export class FaultController {
  private rules: LinkRule[] = [];
  private blocks: Block[] = [];
  readonly stats: FaultStats = { dropped: 0, partitioned: 0, delayed: 0, duplicated: 0, reordered: 0 };

  constructor(private readonly rng: Rng = systemRng()) {}

  /** Faults on frames from `from` to `to`; '*' matches any node. Later rules override earlier ones field by field. */
  setLink(from: NodeId | '*', to: NodeId | '*', faults: LinkFaults): this {
    this.rules.push({ from, to, faults });
    return this;
  }

  /** Faults on every link. */
  setAll(faults: LinkFaults): this {
    return this.setLink('*', '*', faults);
  }

  /** Cuts `a` from `b` (both directions, or only a→b with oneWay). */
  partition(a: readonly NodeId[], b: readonly NodeId[], opts: { oneWay?: boolean } = {}): this {
    const A = new Set(a);
    const B = new Set(b);
    this.blocks.push({ from: A, to: B });
    if (!opts.oneWay) this.blocks.push({ from: B, to: A });
    return this;
  }

  /** Cuts `node` from everyone, both directions. */
  isolate(node: NodeId): this {
    const n = new Set([node]);
    this.blocks.push({ from: n, to: '*' }, { from: '*', to: n });
    return this;
  }

  /** Removes every partition; link faults stay. */
  heal(): this {
    this.blocks = [];
    return this;
  }

  /** Removes everything. */
  clear(): this {
    this.blocks = [];
    this.rules = [];
    return this;
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    for (const b of this.blocks) if (matches(b.from, from) && matches(b.to, to)) return true;
    return false;
  }

  faultsFor(from: NodeId, to: NodeId | undefined): LinkFaults {
    let f: LinkFaults = {};
    for (const r of this.rules) {
      if ((r.from === '*' || r.from === from) && (r.to === '*' || r.to === to)) f = { ...f, ...r.faults };
    }
    return f;
  }

  middleware(): PipeMiddleware {
    return (pipe, ctx) => this.wrap(pipe, ctx);
  }

  /** Installs this controller on a transport; returns the transport for chaining. */
  install<T extends Transport>(transport: T): T {
    transport.use(this.middleware());
    return transport;
  }

  private wrap(inner: Pipe, ctx: PipeContext): Pipe {
    let closed = false;
    let held: Uint8Array | null = null;
    let heldTimer: NodeJS.Timeout | null = null;
    const outer: Pipe = {
      ...(inner.remoteAddress ? { remoteAddress: inner.remoteAddress } : {}),
      ...(inner.remotePublicKey ? { remotePublicKey: inner.remotePublicKey } : {}),
      onFrame: null,
      onClose: null,
      onDrain: null,
      bufferedBytes: () => inner.bufferedBytes(),
      close: (code, reason) => inner.close(code, reason),
      send: (frame) => {
        const peer = ctx.peerId();
        if (peer !== undefined && this.isBlocked(ctx.localId, peer)) {
          this.stats.partitioned++;
          return;
        }
        const f = this.faultsFor(ctx.localId, peer);
        if (f.drop && this.rng.chance(f.drop)) {
          this.stats.dropped++;
          return;
        }
        const copies = f.duplicate && this.rng.chance(f.duplicate) ? 2 : 1;
        if (copies === 2) this.stats.duplicated++;
        if (f.reorder && held === null && this.rng.chance(f.reorder)) {
          // Hold this frame until the next one has gone out (or briefly, if none comes).
          this.stats.reordered++;
          held = frame;
          heldTimer = setTimeout(releaseHeld, 5);
          return;
        }
        for (let i = 0; i < copies; i++) deliver(frame, f);
        if (held) releaseHeld();
      },
    };
    const deliver = (frame: Uint8Array, f: LinkFaults): void => {
      const delay = (f.delayMs ?? 0) + (f.jitterMs ? this.rng.next() * f.jitterMs : 0);
      if (delay <= 0) return inner.send(frame);
      this.stats.delayed++;
      setTimeout(() => {
        if (!closed) inner.send(frame);
      }, delay);
    };
    const releaseHeld = (): void => {
      if (heldTimer) clearTimeout(heldTimer);
      heldTimer = null;
      const h = held;
      held = null;
      if (h && !closed) inner.send(h);
    };
    inner.onFrame = (f) => outer.onFrame?.(f);
    inner.onDrain = () => outer.onDrain?.();
    inner.onClose = (code, reason) => {
      closed = true;
      if (heldTimer) clearTimeout(heldTimer);
      outer.onClose?.(code, reason);
    };
    return outer;
  }
}

function matches(side: Side, node: NodeId): boolean {
  return side === '*' || side.has(node);
}
