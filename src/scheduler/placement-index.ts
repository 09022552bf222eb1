/**
 * Shared node indexes for small groups. A group of k tasks otherwise costs a
 * filter pass and a heap build over every node (O(n)), which is fine for a
 * service scaled to hundreds of replicas but makes a batch of many one-task
 * groups (a node failure displacing one task of each of 200 services, a
 * stack deploy) O(groups × n).
 *
 * An index holds, for one (static filters, reservation shape, strategy), the
 * nodes passing the static filters that can fit one more such task, in the
 * strategy's order as seen by a service with no task on them. It lives
 * across groups and batches and catches up from a change log of the slots
 * whose usage or facts changed since it last looked, so a lookup is
 * O(changes × log n) instead of O(n).
 *
 * A group then needs only the nodes the index cannot rank for it, the
 * "special" ones: nodes already running tasks of its service (their order and
 * MaxReplicas depend on that count) and nodes holding one of its host ports
 * (ineligible). The best node is the better of (a) the index's best node that
 * is not special and (b) the best eligible special node.
 */
import { Heap } from './heap.js';
import { passesDynamic, passesStatic } from './filters.js';
import type { Requirements } from './group.js';
import type { NodeInfo } from './node-info.js';
import { cachedScore, type ShapeScores } from './score-binpack.js';
import type { Scratch } from './score-spread.js';

/**
 * Slots whose facts or usage changed, in order. Indexes remember how far they
 * have read. When the node set changes (ranks shift) or the log outgrows its
 * bound, the epoch moves on and every index rebuilds on its next use.
 */
export class ChangeLog {
  private slots: number[] = [];
  /** Sequence number of slots[0]. */
  private base = 0;
  epoch = 0;

  constructor(private limit: number) {}

  record(slot: number): void {
    this.slots.push(slot);
    if (this.slots.length > this.limit) this.invalidate();
  }

  /** Everything any index knows is void (ranks changed, or the log was cut). */
  invalidate(): void {
    this.base += this.slots.length;
    this.slots = [];
    this.epoch++;
  }

  setLimit(limit: number): void {
    this.limit = limit;
  }

  get end(): number {
    return this.base + this.slots.length;
  }

  /** Slots recorded at sequence numbers [from, end). */
  since(from: number, visit: (slot: number) => void): void {
    for (let i = from - this.base; i < this.slots.length; i++) visit(this.slots[i]!);
  }
}

/** The parts of the scheduler an index reads. */
export interface IndexContext {
  infos: readonly (NodeInfo | undefined)[];
  ranked: readonly NodeInfo[];
  scratch: Scratch;
  log: ChangeLog;
}

export class PlacementIndex {
  /** The schedule() call that last used this index (the cache never evicts one the current batch uses). */
  lastBatch = 0;
  private epoch = -1;
  private seq = 0;
  /** Heap of slots; pos[slot] = index in heap + 1 (0 = absent). */
  private heap: number[] = [];
  private pos = new Int32Array(0);
  /** 1 when the slot passes the static filters. */
  member = new Uint8Array(0);
  /**
   * The keys the heap is ordered by, as of each slot's last refresh. They must
   * be the index's own copy: groups update nodes (and the shared score cache)
   * between syncs, and a heap whose keys move under it while another key is
   * being sifted does not come back in order.
   */
  private keyScore = new Float64Array(0);
  private keyTasks = new Int32Array(0);
  private less: (a: number, b: number) => boolean = () => false;

  /** req: any group with this index's key (static filters, cpu, mem, strategy); its service, ports and MaxReplicas are ignored here. */
  private readonly req: Requirements;

  constructor(
    req: Requirements,
    private readonly shape: ShapeScores | undefined,
  ) {
    // Shared by every service with this key: host ports and MaxReplicas are per-group business.
    this.req = { ...req, ports: [], maxReplicas: 0 };
  }

  /** Brings the index up to date with every change since it last looked; true if that took a rebuild. */
  sync(ctx: IndexContext): boolean {
    if (this.epoch !== ctx.log.epoch || this.pos.length < ctx.infos.length) {
      this.rebuild(ctx);
      return true;
    }
    if (this.seq !== ctx.log.end) {
      ctx.log.since(this.seq, (slot) => this.refresh(ctx, slot));
      this.seq = ctx.log.end;
    }
    return false;
  }

  /** The best node that skip() does not exclude, or -1. Explores only as far down the heap as excluded nodes reach. */
  best(skip: (slot: number) => boolean): number {
    const heap = this.heap;
    if (heap.length === 0) return -1;
    if (!skip(heap[0]!)) return heap[0]!;
    const frontier = new Heap<number>([], (i, j) => this.less(heap[i]!, heap[j]!));
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l < heap.length) frontier.push(l);
      if (l + 1 < heap.length) frontier.push(l + 1);
      if (frontier.size === 0) return -1;
      i = frontier.pop();
      if (!skip(heap[i]!)) return heap[i]!;
    }
  }

  get size(): number {
    return this.heap.length;
  }

  private rebuild(ctx: IndexContext): void {
    const n = ctx.infos.length;
    this.pos = new Int32Array(n);
    this.member = new Uint8Array(n);
    const score = (this.keyScore = new Float64Array(n));
    const tasks = (this.keyTasks = new Int32Array(n));
    const rank = ctx.scratch.rank;
    // The strategy's order for a service with no task on the node (svc = 0 everywhere).
    this.less = this.shape
      ? (a, b) => {
          const sa = score[a]!;
          const sb = score[b]!;
          if (sa !== sb) return sa > sb;
          const ta = tasks[a]!;
          const tb = tasks[b]!;
          return ta !== tb ? ta < tb : rank[a]! < rank[b]!;
        }
      : (a, b) => {
          const ta = tasks[a]!;
          const tb = tasks[b]!;
          return ta !== tb ? ta < tb : rank[a]! < rank[b]!;
        };
    const heap: number[] = [];
    for (const info of ctx.ranked) {
      if (!passesStatic(info, this.req)) continue;
      this.member[info.slot] = 1;
      if (!passesDynamic(info, this.req, 0)) continue;
      this.snapshot(info);
      heap.push(info.slot);
    }
    // Heapify with positions.
    this.heap = heap;
    for (let i = 0; i < heap.length; i++) this.pos[heap[i]!] = i + 1;
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) this.down(i);
    this.epoch = ctx.log.epoch;
    this.seq = ctx.log.end;
  }

  private refresh(ctx: IndexContext, slot: number): void {
    const info = ctx.infos[slot];
    const present = info?.node !== undefined && passesStatic(info, this.req);
    this.member[slot] = present ? 1 : 0;
    const fits = present && passesDynamic(info, this.req, 0);
    const at = this.pos[slot]! - 1;
    if (!fits) {
      if (at >= 0) this.removeAt(at);
      return;
    }
    this.snapshot(info);
    if (at < 0) {
      this.heap.push(slot);
      this.pos[slot] = this.heap.length;
      this.up(this.heap.length - 1);
    } else {
      this.up(at);
      this.down(this.pos[slot]! - 1);
    }
  }

  private snapshot(info: NodeInfo): void {
    if (this.shape) this.keyScore[info.slot] = cachedScore(this.shape, info, this.req.cpu, this.req.mem);
    this.keyTasks[info.slot] = info.tasks;
  }

  private removeAt(i: number): void {
    const heap = this.heap;
    const gone = heap[i]!;
    const last = heap.pop()!;
    this.pos[gone] = 0;
    if (i < heap.length) {
      heap[i] = last;
      this.pos[last] = i + 1;
      this.up(i);
      this.down(this.pos[last]! - 1);
    }
  }

  private up(i: number): void {
    const heap = this.heap;
    const x = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(x, heap[p]!)) break;
      heap[i] = heap[p]!;
      this.pos[heap[i]!] = i + 1;
      i = p;
    }
    heap[i] = x;
    this.pos[x] = i + 1;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const x = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(heap[r]!, heap[l]!) ? r : l;
      if (!this.less(heap[c]!, x)) break;
      heap[i] = heap[c]!;
      this.pos[heap[i]!] = i + 1;
      i = c;
    }
    heap[i] = x;
    this.pos[x] = i + 1;
  }

  /** For checkInvariants: caught up, the index holds exactly the nodes a fresh pass would, in heap order. */
  audit(ctx: IndexContext): string | undefined {
    this.sync(ctx);
    if (!this.isValid()) return 'heap order or positions broken';
    const want = new Set<number>();
    for (const info of ctx.ranked) {
      const member = passesStatic(info, this.req);
      if ((this.member[info.slot] === 1) !== member) return `node ${info.id}: static membership stale`;
      if (member && passesDynamic(info, this.req, 0)) want.add(info.slot);
    }
    if (want.size !== this.heap.length || this.heap.some((slot) => !want.has(slot))) return 'holds the wrong nodes';
    for (const slot of this.heap) {
      const info = ctx.infos[slot]!;
      if (this.keyTasks[slot] !== info.tasks) return `node ${info.id}: task count stale`;
      if (this.shape && this.keyScore[slot] !== cachedScore(this.shape, info, this.req.cpu, this.req.mem)) return `node ${info.id}: score stale`;
    }
    return undefined;
  }

  /** For assertions: heap order and positions agree. */
  isValid(): boolean {
    for (let i = 0; i < this.heap.length; i++) {
      if (this.pos[this.heap[i]!] !== i + 1) return false;
      if (i > 0 && this.less(this.heap[i]!, this.heap[(i - 1) >> 1]!)) return false;
    }
    return true;
  }
}

/** Cache key of the index a group would use. */
export function indexKey(req: Requirements, binpack: boolean): string {
  return binpack ? `${req.staticKey}\u0002${req.cpu}/${req.mem}` : `${req.staticKey}\u0002spread/${req.cpu}/${req.mem}`;
}
