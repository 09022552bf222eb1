/**
 * A synchronous, lossless-by-default test network for the Raft unit tests:
 * every Ready is persisted at once and its messages delivered in FIFO order
 * until the cluster is quiet. Tests cut links with `block`/`isolate` and
 * drive time with `tick`.
 */
import { RaftCore } from '../../src/raft/core.js';
import type { ConfState, Entry, Message, NodeId, ReadState, RefusedProposals } from '../../src/raft/interface.js';
import type { RaftOptions } from '../../src/raft/options.js';
import { seededRng } from '../../src/util/rng.js';
import type { Rng } from '../../src/util/rng.js';
import { MemoryStorage } from './sim/storage.js';

export interface TestNode {
  core: RaftCore;
  storage: MemoryStorage;
  applied: Entry[];
  readStates: ReadState[];
  /** Refusals of this node's forwarded proposals, from Ready.refused. */
  refused: RefusedProposals[];
  /** Snapshots handed out in Ready (received from a leader). */
  snapshots: number[];
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export class TestCluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Every message sent, for assertions. */
  readonly sent: Message[] = [];
  queue: Message[] = [];
  /** Return true to drop a message. */
  filter: (m: Message) => boolean = () => false;
  private readonly blocked = new Set<string>();
  private readonly rng: Rng;

  constructor(
    ids: NodeId[],
    readonly opts: Partial<RaftOptions> = {},
    seed = 1,
    conf: ConfState = { voters: ids, learners: [] },
  ) {
    this.rng = seededRng(seed);
    for (const id of ids) this.start(id, new MemoryStorage(conf));
  }

  start(id: NodeId, storage: MemoryStorage, opts: Partial<RaftOptions> = this.opts): TestNode {
    const core = new RaftCore({ id, rng: this.rng.fork(), options: opts, boot: storage.boot() });
    const n: TestNode = { core, storage, applied: [], readStates: [], refused: [], snapshots: [] };
    this.nodes.set(id, n);
    return n;
  }

  /** Adds a brand-new empty node (it learns the configuration from the leader). */
  addNode(id: NodeId, opts: Partial<RaftOptions> = this.opts): TestNode {
    return this.start(id, new MemoryStorage({ voters: [], learners: [] }), opts);
  }

  get(id: NodeId): RaftCore {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n.core;
  }

  node(id: NodeId): TestNode {
    return this.nodes.get(id)!;
  }

  /** Crash: in-memory state is lost, storage stays. */
  crash(id: NodeId): MemoryStorage {
    const n = this.node(id);
    this.nodes.delete(id);
    return n.storage;
  }

  restart(id: NodeId, storage: MemoryStorage): TestNode {
    return this.start(id, storage);
  }

  block(from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`);
  }
  unblock(from: NodeId, to: NodeId): void {
    this.blocked.delete(`${from}>${to}`);
  }
  isolate(id: NodeId): void {
    for (const o of this.ids()) if (o !== id) (this.block(id, o), this.block(o, id));
  }
  heal(): void {
    this.blocked.clear();
  }

  ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  /** Processes every pending Ready and delivers every message until quiet. */
  pump(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const n of this.nodes.values()) {
        while (n.core.hasReady()) {
          busy = true;
          const rd = n.core.ready();
          n.storage.persist(rd);
          if (rd.snapshot) n.snapshots.push(rd.snapshot.meta.index);
          for (const e of rd.committed) n.applied.push(e);
          for (const r of rd.readStates) n.readStates.push(r);
          for (const r of rd.refused) n.refused.push(r);
          for (const m of rd.messages) {
            this.sent.push(m);
            this.queue.push(m);
          }
          n.core.advance(rd);
        }
      }
      const q = this.queue;
      this.queue = [];
      for (const m of q) {
        busy = true;
        if (this.blocked.has(`${m.from}>${m.to}`) || this.filter(m)) continue;
        this.nodes.get(m.to)?.core.step(m);
      }
      if (!busy) return;
    }
    throw new Error('cluster did not quiesce');
  }

  tick(ids: NodeId[] = this.ids(), times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of ids) this.nodes.get(id)?.core.tick();
      this.pump();
    }
  }

  /** Ticks only `id` until it is leader (others stay quiet so it times out first). */
  elect(id: NodeId, maxTicks = 200): void {
    for (let i = 0; i < maxTicks; i++) {
      if (this.get(id).status.role === 'leader') return;
      this.tick([id]);
    }
    throw new Error(`${id} did not become leader`);
  }

  leaders(): NodeId[] {
    return this.ids().filter((id) => this.get(id).status.role === 'leader');
  }

  propose(id: NodeId, s: string): void {
    this.get(id).propose(enc(s));
    this.pump();
  }

  appliedData(id: NodeId): string[] {
    return this.node(id)
      .applied.filter((e) => e.type === 'normal')
      .map((e) => dec(e.data));
  }

  clearSent(): void {
    this.sent.length = 0;
  }
}
