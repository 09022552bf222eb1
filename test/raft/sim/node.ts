/**
 * One simulated manager: the pure core plus what a driver does around it —
 * persist a Ready (after a random fsync latency), then send its messages,
 * apply committed entries to the KV store, serve ReadIndex reads once applied,
 * and snapshot + compact every so often. A crash throws away everything not
 * yet persisted.
 */
import { RaftCore } from '../../../src/raft/core.js';
import { RaftError } from '../../../src/raft/errors.js';
import type { ConfState, Message, NodeId, RaftBootState, Ready, ReadState } from '../../../src/raft/interface.js';
import type { RaftOptions } from '../../../src/raft/options.js';
import type { Rng } from '../../../src/util/rng.js';
import type { Invariants } from './invariants.js';
import { KvStateMachine } from './kv.js';
import type { Applied } from './kv.js';
import { MemoryStorage } from './storage.js';

export interface NodeHooks {
  send(m: Message): void;
  /** Calls `fn` after `delay` steps (0 = now, synchronously). */
  later(delay: number, fn: () => void): void;
  applied(node: SimNode, a: Applied): void;
  readDone(node: SimNode, id: number, value: string): void;
}

export interface NodeParams {
  options: Partial<RaftOptions>;
  snapshotEvery: number;
  maxFsyncDelay: number;
  /**
   * Send append/heartbeat messages as soon as the Ready is taken, while the
   * local fsync runs (Raft thesis §10.2.1), as the production driver does.
   * Safe because the core counts the leader's own log only once advance()
   * confirms it durable — provided the Ready does not change term or vote.
   */
  earlyAppends: boolean;
}

export class SimNode {
  core: RaftCore | null = null;
  kv = new KvStateMachine();
  paused = false;
  /** Messages that arrived while paused, processed on resume (the socket buffered them). */
  inbox: Message[] = [];
  private pending: Ready | null = null;
  /** Bumped on crash so a stale fsync completion is ignored. */
  private epoch = 0;
  private lastSnapshot = 0;
  private reads: ReadState[] = [];
  restarts = 0;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    private readonly rng: Rng,
    private readonly params: NodeParams,
    private readonly hooks: NodeHooks,
    private readonly inv: Invariants,
  ) {}

  get up(): boolean {
    return this.core !== null;
  }

  get live(): boolean {
    return this.core !== null && !this.paused;
  }

  start(): void {
    const boot: RaftBootState = this.storage.boot();
    this.core = new RaftCore({ id: this.id, rng: this.rng.fork(), options: this.params.options, boot });
    this.kv = boot.snapshot ? KvStateMachine.restore(boot.snapshot.data) : new KvStateMachine();
    this.kv.applied = boot.snapshot?.meta.index ?? 0;
    this.lastSnapshot = this.kv.applied;
    this.reads = [];
    this.pending = null;
    this.inbox = [];
  }

  crash(): void {
    this.core = null;
    this.pending = null;
    this.epoch++;
    this.inbox = [];
    this.reads = [];
    this.paused = false;
  }

  restart(): void {
    this.restarts++;
    this.start();
    this.pump();
  }

  deliver(m: Message): void {
    if (this.core === null) return;
    if (this.paused) {
      this.inbox.push(m);
      return;
    }
    this.core.step(m);
    this.pump();
  }

  tick(): void {
    if (!this.live) return;
    this.core!.tick();
    this.pump();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const box = this.inbox;
    this.inbox = [];
    for (const m of box) if (this.core !== null && !this.paused) this.core.step(m);
    this.pump();
  }

  /** Drains Readys: each one is persisted after a simulated fsync delay, then acted on. */
  pump(): void {
    const core = this.core;
    if (core === null || this.paused) return;
    while (this.pending === null && core.hasReady()) {
      const rd = core.ready();
      const hs = rd.hardState;
      if (this.params.earlyAppends && (hs === null || (hs.term === this.storage.hardState.term && hs.vote === this.storage.hardState.vote))) {
        const later: typeof rd.messages = [];
        for (const m of rd.messages) {
          if (m.type === 'append' || m.type === 'heartbeat') this.hooks.send(m);
          else later.push(m);
        }
        rd.messages = later;
      }
      const delay = this.rng.int(this.params.maxFsyncDelay + 1);
      if (delay === 0) {
        this.complete(rd);
        continue;
      }
      this.pending = rd;
      const epoch = this.epoch;
      this.hooks.later(delay, () => {
        if (this.epoch !== epoch || this.core !== core) return; // crashed meanwhile: the write never happened
        if (this.paused) {
          // A paused process finishes its fsync when it runs again.
          this.hooks.later(10, () => this.retryComplete(core, epoch, rd));
          return;
        }
        this.complete(rd);
        this.pump();
      });
    }
  }

  private retryComplete(core: RaftCore, epoch: number, rd: Ready): void {
    if (this.epoch !== epoch || this.core !== core) return;
    if (this.paused) return void this.hooks.later(10, () => this.retryComplete(core, epoch, rd));
    this.complete(rd);
    this.pump();
  }

  private complete(rd: Ready): void {
    const core = this.core!;
    // Log matching is checked on what becomes durable.
    const first = rd.entries[0];
    this.storage.persist(rd);
    if (first !== undefined) this.inv.onPersist(this.id, rd.entries, this.storage.termAt(first.index - 1));
    for (const m of rd.messages) this.hooks.send(m);
    if (rd.snapshot !== null) {
      this.inv.onSnapshot(this.id, rd.snapshot, this.kv.applied);
      this.kv = KvStateMachine.restore(rd.snapshot.data);
      this.kv.applied = rd.snapshot.meta.index;
      this.lastSnapshot = this.kv.applied;
    }
    for (const e of rd.committed) {
      this.inv.onApply(this.id, e, this.kv.applied);
      const a = this.kv.apply(e);
      if (a !== null) this.hooks.applied(this, a);
    }
    for (const r of rd.readStates) this.reads.push(r);
    core.advance(rd);
    this.pending = null;
    this.serveReads();
    if (this.kv.applied - this.lastSnapshot >= this.params.snapshotEvery) {
      const snap = core.compact(this.kv.applied, this.kv.snapshot());
      if (snap !== null) this.storage.saveSnapshot(snap);
      this.lastSnapshot = this.kv.applied;
    }
  }

  private serveReads(): void {
    if (this.reads.length === 0) return;
    const keep: ReadState[] = [];
    for (const r of this.reads) {
      if (r.index <= this.kv.applied) {
        const { id, key } = decodeReadCtx(r.ctx);
        this.hooks.readDone(this, id, this.kv.get(key));
      } else keep.push(r);
    }
    this.reads = keep;
  }

  /** Returns false when the node refused at once (the op certainly did not happen). */
  propose(data: Uint8Array): boolean {
    if (!this.live) return false;
    try {
      this.core!.propose(data);
    } catch (err) {
      if (err instanceof RaftError) return false;
      throw err;
    }
    this.pump();
    return true;
  }

  read(id: number, key: string): boolean {
    if (!this.live) return false;
    try {
      this.core!.readIndex(encodeReadCtx(id, key));
    } catch (err) {
      if (err instanceof RaftError) return false;
      throw err;
    }
    this.pump();
    return true;
  }

  confState(): ConfState | null {
    return this.core?.confState() ?? null;
  }
}

const te = new TextEncoder();
const td = new TextDecoder();

export function encodeReadCtx(id: number, key: string): Uint8Array {
  return te.encode(`${id}|${key}`);
}

export function decodeReadCtx(b: Uint8Array): { id: number; key: string } {
  const s = td.decode(b);
  const i = s.indexOf('|');
  return { id: Number(s.slice(0, i)), key: s.slice(i + 1) };
}
