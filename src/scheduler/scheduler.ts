/**
 * The scheduler: the public API (interface.ts says how the manager drives
 * it) and batch placement over the state kept in state.ts.
 *
 * Cost of schedule() for T tasks in G groups over N nodes. Grouping is O(T).
 * Each group then takes one of two paths:
 *   - a pass (large groups, spread preferences, pinned tasks): static filters
 *     O(N) once per distinct (constraints, platforms, runtime) in the batch,
 *     dynamic filters and heap build O(N) per group, then O(levels × log N)
 *     per task;
 *   - a shared index (small groups, see placement-index.ts): per task
 *     O((m + c) × log N), m = the nodes the service already runs on, c = the
 *     node changes since the index last looked; an index costs O(N) to build
 *     and is reused across groups and batches.
 * SwarmKit filters every node for every group: O(G × N) in all cases.
 */
import type { Node, Task, TaskState } from '../model/index.js';
import { assert } from '../util/assert.js';
import type { NodeAttr } from './constraint.js';
import { SchedulerError } from './errors.js';
import { passesDynamic, passesStatic } from './filters.js';
import { groupTasks, type Group, type Requirements } from './group.js';
import { hostPortsFromStatus, portKeys } from './host-ports.js';
import type {
  HintsLookup,
  NodeUsage,
  Placement,
  SchedulerApi,
  ScheduleResult,
  ServiceHints,
  Unplaced,
} from './interface.js';
import { SchedulerMetrics } from './metrics.js';
import { amount, type NodeInfo } from './node-info.js';
import { resolveOptions, type SchedulerOptions } from './options.js';
import { ReasonCounts, Why } from './reasons.js';
import { binpackLess, cachedScore, ScoreCache, type ShapeScores } from './score-binpack.js';
import { spreadLess, type Scratch } from './score-spread.js';
import { attrKey, descriptorValues, NodeChooser, type DescriptorValues } from './spread-tree.js';
import { indexKey, PlacementIndex, type IndexContext } from './placement-index.js';
import { ClusterState } from './state.js';

/** Whether the group is ordered by binpack score (binpack strategy and something reserved); else by task counts. */
function isBinpack(req: Requirements): boolean {
  return req.strategy === 'binpack' && (req.cpu > 0 || req.mem > 0);
}

/**
 * Terminal task states (types.ts has isTerminal, but the scheduler imports
 * only types from the manager, so it keeps its own list of the same states).
 */
const TERMINAL: ReadonlySet<TaskState> = new Set<TaskState>(['complete', 'shutdown', 'failed', 'rejected', 'remove', 'orphaned']);

interface StaticPass {
  slots: number[];
  reasons: ReasonCounts;
}

export class Scheduler implements SchedulerApi {
  readonly options: SchedulerOptions;
  readonly metrics = new SchedulerMetrics();

  private readonly state: ClusterState;
  /** Present nodes (with a Node) in id order; recomputed when the node set changes. */
  private ranked: NodeInfo[] = [];
  private scratch: Scratch;
  private readonly scores: ScoreCache;
  /** Shared indexes for small groups, by indexKey, in least-recently-used order. */
  private readonly indexes = new Map<string, PlacementIndex>();
  /** Spread descriptor values of the current batch (node facts cannot change during one). */
  private readonly descriptors = new Map<string, DescriptorValues>();

  constructor(opts?: Partial<SchedulerOptions>) {
    this.options = resolveOptions(opts);
    this.scores = new ScoreCache(this.options.maxCachedShapes);
    this.state = new ClusterState(this.metrics);
    this.scratch = { svc: new Int32Array(0), rank: new Int32Array(0), img: new Uint8Array(0), infos: this.state.infos };
  }

  // ------------------------------------------------------------ nodes

  upsertNode(node: Node): void {
    if (typeof node?.ID !== 'string' || node.ID === '') throw new SchedulerError('BAD_REQUEST', 'node without an ID');
    this.state.setNode(node);
    this.metrics.nodeUpserts++;
    this.check();
  }

  removeNode(id: string): void {
    if (!this.state.removeNode(id)) return;
    this.metrics.nodeRemovals++;
    this.check();
  }

  usage(nodeId: string): NodeUsage | undefined {
    const info = this.state.byId.get(nodeId);
    return info ? { nanoCPUs: info.usedCpu, memoryBytes: info.usedMem, tasks: info.tasks } : undefined;
  }

  /** Nodes the scheduler knows (with a Node), for tests and status views. */
  get nodeCount(): number {
    let n = 0;
    for (const i of this.state.byId.values()) if (i.node) n++;
    return n;
  }

  /** Tasks counted against nodes. */
  get taskCount(): number {
    return this.state.counted.size;
  }

  // ------------------------------------------------------------ tasks

  taskAssigned(task: Task, hints?: ServiceHints): void {
    if (typeof task?.ID !== 'string' || task.ID === '') throw new SchedulerError('BAD_REQUEST', 'task without an ID');
    const state = task.Status?.State;
    if (!task.NodeID || (state !== undefined && TERMINAL.has(state))) {
      this.state.release(task.ID);
      this.check();
      return;
    }
    const prev = this.state.counted.get(task.ID);
    // Same node: nothing to do, unless we counted it without ports and now learn them (PortStatus appears once it runs).
    if (prev && prev.info.id === task.NodeID && (prev.ports.length > 0 || (!hints?.hostPorts && !task.Status?.PortStatus))) return;
    const ports = hints?.hostPorts ? portKeys(hints.hostPorts) : portKeys(hostPortsFromStatus(task));
    if (prev && prev.info.id === task.NodeID && ports.length === 0) return;
    if (prev) this.state.release(task.ID);
    const r = task.Spec?.Resources?.Reservations;
    this.state.count(task.ID, this.state.infoFor(task.NodeID), task.ServiceID ?? '', amount(r?.NanoCPUs), amount(r?.MemoryBytes), ports);
    this.metrics.tasksCounted++;
    this.check();
  }

  taskRemoved(task: Pick<Task, 'ID'>): void {
    this.state.release(task.ID);
    this.check();
  }

  // ------------------------------------------------------------ placement

  schedule(pending: readonly Task[], hints?: HintsLookup): ScheduleResult {
    const groups = groupTasks(pending, hints, this.options.strategy);
    const m = this.metrics;
    m.batches++;
    m.tasksSeen += pending.length;
    m.groups += groups.length;
    for (const t of pending) if (this.state.release(t.ID)) m.replaced++;
    this.prepare();
    this.descriptors.clear();

    const placed: Placement[] = [];
    const unplaced: Unplaced[] = [];
    const statics = new Map<string, StaticPass>();
    // How many groups of this batch could share each index: one alone would pay a pass to build it and keep nothing.
    const uses = new Map<string, number>();
    for (const g of groups) {
      if (g.req instanceof SchedulerError || g.req.pinned !== '' || g.req.spread.length > 0) continue;
      const key = indexKey(g.req, isBinpack(g.req));
      uses.set(key, (uses.get(key) ?? 0) + 1);
    }
    for (const g of groups) {
      if (g.req instanceof SchedulerError) {
        const reason = g.req.message.slice(g.req.code.length + 2);
        for (const t of g.tasks) unplaced.push({ taskId: t.ID, code: 'INVALID_SPEC', reason });
        m.tasksInvalid += g.tasks.length;
        continue;
      }
      this.placeGroup(g, g.req, statics, uses, placed, unplaced);
    }
    this.check();
    return { placed, unplaced };
  }

  /** Node order and scratch arrays for a batch. */
  private prepare(): void {
    const cap = this.state.infos.length;
    const s = this.scratch;
    if (s.svc.length < cap) {
      const size = Math.max(cap, s.svc.length * 2, 64);
      this.scratch = { svc: new Int32Array(size), rank: new Int32Array(size), img: new Uint8Array(size), infos: this.state.infos };
      this.state.nodeSetChanged = true; // ranks live in the new array
    }
    if (!this.state.nodeSetChanged) return;
    const ranked: NodeInfo[] = [];
    for (const info of this.state.byId.values()) if (info.node) ranked.push(info);
    ranked.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (let i = 0; i < ranked.length; i++) this.scratch.rank[ranked[i]!.slot] = i;
    this.ranked = ranked;
    this.state.nodeSetChanged = false;
    // Ranks moved (and slots may have grown): every index is void.
    this.indexes.clear();
    this.state.log.invalidate();
    // Past ~4 changes per node, rebuilding an index costs less than replaying the log.
    this.state.log.setLimit(Math.max(1024, 4 * ranked.length));
  }

  /** Every node's value for a spread descriptor, computed once per batch. */
  private descriptor(attr: NodeAttr): DescriptorValues {
    const key = attrKey(attr);
    let d = this.descriptors.get(key);
    if (!d) this.descriptors.set(key, (d = descriptorValues(attr, this.ranked, this.state.infos.length)));
    return d;
  }

  private staticPass(req: Requirements, statics: Map<string, StaticPass>): StaticPass {
    const hit = statics.get(req.staticKey);
    if (hit) {
      this.metrics.staticReuses++;
      return hit;
    }
    const pass: StaticPass = { slots: [], reasons: new ReasonCounts() };
    for (const info of this.ranked) if (passesStatic(info, req, pass.reasons)) pass.slots.push(info.slot);
    this.metrics.staticPasses++;
    this.metrics.staticChecks += this.ranked.length;
    statics.set(req.staticKey, pass);
    return pass;
  }

  private placeGroup(g: Group, req: Requirements, statics: Map<string, StaticPass>, uses: Map<string, number>, placed: Placement[], unplaced: Unplaced[]): void {
    const svc = this.scratch.svc;
    const before = this.state.svcIndex.get(req.serviceId);
    if (before) for (const [slot, n] of before) svc[slot] = n;
    const holders = req.image ? this.state.imageNodes.get(req.image) : undefined;
    if (holders) for (const slot of holders) this.scratch.img[slot] = 1;
    const binpack = isBinpack(req);
    const shape = binpack ? this.scores.shape(req.cpu, req.mem, this.state.infos.length) : undefined;
    const g0 = placed.length;
    let reasons: ReasonCounts | undefined;
    const idx = req.pinned === '' && req.spread.length === 0 && this.indexPays(g.tasks.length, req, before) ? this.indexFor(req, shape, uses) : undefined;
    if (idx) {
      this.placeByIndex(g, req, idx, shape, placed);
    } else {
      reasons = this.placeByPass(g, req, shape, statics, placed);
    }
    const n = placed.length - g0;
    this.metrics.tasksPlaced += n;
    if (n < g.tasks.length) {
      reasons ??= this.explain(req);
      const reason = reasons.format(this.options.maxReasons);
      this.metrics.tasksUnplaced += g.tasks.length - n;
      for (let i = n; i < g.tasks.length; i++) unplaced.push({ taskId: g.tasks[i]!.ID, code: 'NO_SUITABLE_NODE', reason });
    }
    // svc is all zeros between groups; only the service's nodes were set.
    const after = this.state.svcIndex.get(req.serviceId);
    if (after) for (const slot of after.keys()) svc[slot] = 0;
    if (holders) for (const slot of holders) this.scratch.img[slot] = 0;
  }

  /**
   * Whether a shared index beats a pass over the nodes: the index path looks
   * at the service's own nodes and its host-port holders (m) for each of the
   * k tasks, and m grows by up to k as the group is placed.
   */
  private indexPays(k: number, req: Requirements, perNode: Map<number, number> | undefined): boolean {
    let m = perNode?.size ?? 0;
    for (const p of req.ports) m += this.state.portNodes.get(p) ?? 0;
    return this.options.indexCostRatio * k * (m + k) <= this.ranked.length;
  }

  /**
   * Filters every node (static part shared through the batch's static
   * passes), then places the group from a heap (or the spread-preference
   * tree) of the eligible ones. Returns the per-node reasons, which are
   * complete whenever a task is left over.
   */
  private placeByPass(g: Group, req: Requirements, shape: ShapeScores | undefined, statics: Map<string, StaticPass>, placed: Placement[]): ReasonCounts {
    const infos = this.state.infos;
    const svc = this.scratch.svc;
    const reasons = new ReasonCounts();
    let candidates: number[];
    let considered: number;
    if (req.pinned !== '') {
      const info = this.state.byId.get(req.pinned);
      considered = 1;
      if (!info?.node) {
        reasons.add(Why.NOT_FOUND, req.pinned);
        candidates = [];
      } else {
        candidates = passesStatic(info, req, reasons) ? [info.slot] : [];
        this.metrics.staticChecks++;
      }
    } else {
      const pass = this.staticPass(req, statics);
      reasons.addAll(pass.reasons);
      candidates = pass.slots;
      considered = this.ranked.length;
    }
    this.metrics.dynamicChecks += candidates.length;
    const less = shape ? binpackLess(this.scratch, shape.score) : spreadLess(this.scratch);
    const tasks = g.tasks;
    let i = 0;
    if (tasks.length === 1 && req.spread.length === 0) {
      // One task: a single scan for the best node, no heap to build.
      let best = -1;
      for (const slot of candidates) {
        const info = infos[slot]!;
        if (!passesDynamic(info, req, svc[slot]!, reasons)) continue;
        if (shape) cachedScore(shape, info, req.cpu, req.mem);
        if (best < 0 || less(slot, best)) best = slot;
      }
      if (best >= 0) {
        this.placeOne(tasks[0]!, infos[best]!, req, placed);
        i = 1;
      }
    } else {
      const eligible: number[] = [];
      for (const slot of candidates) {
        const info = infos[slot]!;
        if (!passesDynamic(info, req, svc[slot]!, reasons)) continue;
        if (shape) cachedScore(shape, info, req.cpu, req.mem);
        eligible.push(slot);
      }
      const chooser = new NodeChooser(eligible, req.spread.map((a) => this.descriptor(a)), svc, less);
      for (; i < tasks.length; i++) {
        const slot = chooser.peek();
        if (slot < 0) break;
        const info = infos[slot]!;
        this.placeOne(tasks[i]!, info, req, placed);
        const keep = passesDynamic(info, req, svc[slot]!, reasons);
        if (keep && shape) cachedScore(shape, info, req.cpu, req.mem);
        chooser.placed(keep);
      }
    }
    // Every considered node was rejected exactly once, by its first failing filter.
    assert(i === tasks.length || reasons.total === considered, () => `reasons count ${reasons.total} nodes, ${considered} considered`);
    return reasons;
  }

  /**
   * Places a small group through the shared index of its (static filters,
   * reservation shape, strategy): per task, the better of the index's best
   * node outside the service's own nodes and the best of the service's own
   * nodes. See placement-index.ts.
   */
  /**
   * The group's shared index: the cached one, or a new one when at least two
   * groups of the batch will use it and there is room. Never evicts an index
   * this batch already used (with more keys than room, evicting would rebuild
   * an index per group: worse than a pass).
   */
  private indexFor(req: Requirements, shape: ShapeScores | undefined, uses: Map<string, number>): PlacementIndex | undefined {
    const key = indexKey(req, shape !== undefined);
    let idx = this.indexes.get(key);
    if (idx) {
      this.indexes.delete(key); // re-inserted: Map order is the LRU order
    } else {
      if ((uses.get(key) ?? 0) < 2) return undefined;
      if (this.indexes.size >= this.options.maxIndexes) {
        const [oldest, old] = this.indexes.entries().next().value!;
        if (old.lastBatch === this.metrics.batches) return undefined;
        this.indexes.delete(oldest);
      }
      idx = new PlacementIndex(req, shape);
    }
    idx.lastBatch = this.metrics.batches;
    this.indexes.set(key, idx);
    return idx;
  }

  private placeByIndex(g: Group, req: Requirements, idx: PlacementIndex, shape: ShapeScores | undefined, placed: Placement[]): void {
    this.metrics.indexedGroups++;
    const ctx = this.indexContext();
    const infos = this.state.infos;
    const svc = this.scratch.svc;
    const ports = req.ports;
    const less = shape ? binpackLess(this.scratch, shape.score) : spreadLess(this.scratch);
    const img = this.scratch.img;
    const holders = req.image ? this.state.imageNodes.get(req.image) : undefined;
    // The index ranks nodes for no service and no image: the nodes this group ranks differently are looked at one by one.
    const special = (slot: number): boolean => {
      if (svc[slot]! > 0 || img[slot] === 1) return true;
      if (ports.length === 0) return false;
      const held = infos[slot]!.ports;
      if (held === undefined) return false;
      for (const p of ports) if ((held.get(p) ?? 0) > 0) return true;
      return false;
    };
    // Made once per group, not per task: this is the placement loop. Returns the better of `best` and `slot`.
    const consider = (slot: number, best: number): number => {
      if (idx.member[slot] !== 1) return best;
      const info = infos[slot]!;
      this.metrics.dynamicChecks++;
      if (!passesDynamic(info, req, svc[slot]!)) return best;
      if (shape) cachedScore(shape, info, req.cpu, req.mem);
      return best < 0 || less(slot, best) ? slot : best;
    };
    for (const t of g.tasks) {
      if (idx.sync(ctx)) this.metrics.indexBuilds++;
      let best = idx.best(special);
      if (best >= 0 && shape) cachedScore(shape, infos[best]!, req.cpu, req.mem);
      const own = this.state.svcIndex.get(req.serviceId);
      if (own) for (const slot of own.keys()) best = consider(slot, best);
      if (holders) for (const slot of holders) best = consider(slot, best);
      if (best < 0) return;
      this.placeOne(t, infos[best]!, req, placed);
    }
  }

  private indexContext(): IndexContext {
    return { infos: this.state.infos, ranked: this.ranked, scratch: this.scratch, log: this.state.log };
  }

  private placeOne(t: Task, info: NodeInfo, req: Requirements, placed: Placement[]): void {
    this.state.count(t.ID, info, req.serviceId, req.cpu, req.mem, req.ports);
    this.scratch.svc[info.slot]!++;
    placed.push({ taskId: t.ID, nodeId: info.id });
  }

  /** Why no node can take one more task of the group: every node under its first failing filter. */
  private explain(req: Requirements): ReasonCounts {
    const reasons = new ReasonCounts();
    const svc = this.scratch.svc;
    for (const info of this.ranked) {
      if (passesStatic(info, req, reasons)) {
        const ok = passesDynamic(info, req, svc[info.slot]!, reasons);
        assert(!ok, () => `node ${info.id} fits a task the index found no node for`);
      }
    }
    return reasons;
  }

  // ------------------------------------------------------------ invariants

  private check(): void {
    if (this.options.checkInvariants) this.verify();
  }

  /** Recomputes every aggregate from the task table and asserts it matches (O(tasks + nodes)). */
  verify(): void {
    this.state.verify();
    assert(this.scratch.svc.every((x) => x === 0), 'per-group service counts left behind');
    assert(this.scratch.img.every((x) => x === 0), 'per-group image marks left behind');
    if (!this.state.nodeSetChanged) {
      const ctx = this.indexContext();
      for (const [key, idx] of this.indexes) {
        const bad = idx.audit(ctx);
        assert(bad === undefined, () => `index ${JSON.stringify(key)}: ${bad}`);
      }
    }
  }
}
