/**
 * A tiny, fully controlled network of gossip cores for unit tests: 1 ms
 * datagram latency, no loss unless a test drops packets, per-node pause, and
 * a log of every datagram and event. Time advances in 1 ms steps, so tests
 * never sleep and never look at the wall clock.
 */
import { seededRng } from '../../../src/util/rng.js';
import { GossipCore } from '../../../src/gossip/core.js';
import type { GossipEvent, GossipMessage, MemberRecord, NodeMeta, PushPullState } from '../../../src/gossip/interface.js';
import type { GossipOptions } from '../../../src/gossip/options.js';

export const META: NodeMeta = { resources: { nanoCpus: 2_000_000_000, memoryBytes: 1 << 30 }, labels: { zone: 'a' } };

export interface Sent {
  at: number;
  from: string;
  to: string;
  msgs: GossipMessage[];
}

interface InFlight extends Sent {
  deliverAt: number;
}

export const addrOf = (id: string): string => `${id}:7946`;
const idOf = (addr: string): string => addr.slice(0, addr.indexOf(':'));

export class MiniNet {
  now = 0;
  readonly nodes = new Map<string, GossipCore>();
  readonly events = new Map<string, GossipEvent[]>();
  readonly sent: Sent[] = [];
  private inflight: InFlight[] = [];
  /** Return true to drop a datagram. */
  drop: (p: Sent) => boolean = () => false;
  readonly paused = new Set<string>();
  readonly crashed = new Set<string>();
  private backlog = new Map<string, Sent[]>();
  /** Run push-pull requests automatically (instantly, when both ends are up). */
  autoPushPull = true;
  private rngSeed: number;

  constructor(
    ids: string[],
    readonly options: Partial<GossipOptions> = {},
    seed = 1,
    converged = true,
  ) {
    this.rngSeed = seed;
    for (const id of ids) this.add(id);
    if (converged) {
      const records: MemberRecord[] = ids.map((id) => this.nodes.get(id)!.member(id)!);
      for (const id of ids) this.nodes.get(id)!.restoreMembers(records);
      this.flush();
    }
  }

  /** Adds a fresh process for `id` (replacing a crashed one). */
  add(id: string, incarnation = 1): GossipCore {
    const core = new GossipCore({
      self: { id, addr: addrOf(id), clusterAddr: addrOf(id), role: 'worker', meta: META, incarnation },
      rng: seededRng(this.rngSeed++ * 7919),
      nowMs: this.now,
      options: this.options,
    });
    this.nodes.set(id, core);
    this.crashed.delete(id);
    if (!this.events.has(id)) this.events.set(id, []);
    return core;
  }

  core(id: string): GossipCore {
    return this.nodes.get(id)!;
  }

  crash(id: string): void {
    this.crashed.add(id);
  }

  /** Drains every node's Ready: datagrams go in flight, push-pulls run, events are logged. */
  flush(): void {
    for (const [id, core] of this.nodes) {
      if (this.crashed.has(id) || this.paused.has(id) || !core.hasReady()) continue;
      const r = core.ready();
      for (const p of r.packets) {
        const s: Sent = { at: this.now, from: id, to: idOf(p.to), msgs: p.messages };
        this.sent.push(s);
        if (!this.drop(s)) this.inflight.push({ ...s, deliverAt: this.now + 1 });
      }
      this.events.get(id)!.push(...r.events);
      for (const pp of r.pushPulls) if (this.autoPushPull) this.pushPull(id, idOf(pp.to), pp.state);
    }
  }

  pushPull(from: string, to: string, state: PushPullState): boolean {
    const dst = this.nodes.get(to);
    if (!dst || this.crashed.has(to) || this.paused.has(to) || this.crashed.has(from)) return false;
    const reply = dst.handlePushPull(state);
    this.nodes.get(from)!.mergeRemoteState(reply);
    return true;
  }

  /** Advances the clock by `ms`, one millisecond at a time. */
  run(ms: number): void {
    const end = this.now + ms;
    while (this.now < end) this.step();
  }

  /** Runs until `pred` holds (checked every ms) or `maxMs` passed; returns whether it held. */
  runUntil(pred: () => boolean, maxMs: number): boolean {
    const end = this.now + maxMs;
    while (this.now < end) {
      if (pred()) return true;
      this.step();
    }
    return pred();
  }

  pause(id: string): void {
    this.paused.add(id);
  }

  /** Resumes a paused node: its timers fire first (tick), then its backlog is read. */
  resume(id: string): void {
    this.paused.delete(id);
    const core = this.core(id);
    core.tick(this.now);
    for (const s of this.backlog.get(id) ?? []) core.receive(addrOf(s.from), s.msgs);
    this.backlog.delete(id);
    this.flush();
  }

  private step(): void {
    this.now++;
    const due = this.inflight.filter((p) => p.deliverAt <= this.now);
    this.inflight = this.inflight.filter((p) => p.deliverAt > this.now);
    for (const p of due) {
      const core = this.nodes.get(p.to);
      if (!core || this.crashed.has(p.to)) continue;
      if (this.paused.has(p.to)) {
        const b = this.backlog.get(p.to) ?? [];
        b.push(p);
        this.backlog.set(p.to, b);
        continue;
      }
      core.tick(this.now);
      core.receive(addrOf(p.from), p.msgs);
    }
    for (const [id, core] of this.nodes) {
      if (this.crashed.has(id) || this.paused.has(id)) continue;
      if (core.nextDeadline() <= this.now) core.tick(this.now);
    }
    this.flush();
  }

  /** Events of `id` matching a type (and optionally about a member). */
  eventsOf(id: string, type: GossipEvent['type'], about?: string): GossipEvent[] {
    return (this.events.get(id) ?? []).filter((e) => e.type === type && (about === undefined || ('member' in e && e.member.id === about)));
  }

  stateOf(viewer: string, id: string): string | undefined {
    return this.core(viewer).member(id)?.state;
  }
}
