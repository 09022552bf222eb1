/**
 * What the scheduler knows between calls: the nodes (by id and by slot) and
 * the tasks counted against them, with every aggregate placement reads kept
 * up to date as tasks are counted and released, so no placement ever walks
 * the task table. Every change to a node's facts or usage gets a fresh stamp
 * (cached binpack scores check it) and an entry in the change log (the shared
 * indexes catch up from it).
 */
import { assert } from '../util/assert.js';
import type { SchedulerMetrics } from './metrics.js';
import { NO_IMAGES, NodeInfo } from './node-info.js';
import { ChangeLog } from './placement-index.js';
import type { Node } from '../model/index.js';

/** What one counted task holds on its node, so releasing it subtracts exactly what was added. */
export interface Counted {
  info: NodeInfo;
  serviceId: string;
  cpu: number;
  mem: number;
  ports: string[];
}

export class ClusterState {
  readonly byId = new Map<string, NodeInfo>();
  /** NodeInfo by slot; holes are free slots. */
  readonly infos: (NodeInfo | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  readonly counted = new Map<string, Counted>();
  /** ServiceID → slot → tasks of that service counted on the node. */
  readonly svcIndex = new Map<string, Map<number, number>>();
  /** Image → slots of the nodes that have it (the nodes a group prefers when the choice is otherwise equal). */
  readonly imageNodes = new Map<string, Set<number>>();
  /** Host port key → nodes holding it (how many nodes a group with that port must look at itself). */
  readonly portNodes = new Map<string, number>();
  /** Slots that changed, for the shared indexes to catch up from. */
  readonly log = new ChangeLog(1024);
  /** Set when a node appears or goes away: node ranks must be recomputed. */
  nodeSetChanged = true;
  /** Source of NodeInfo.stamp values: unique across nodes, so a reused slot never matches a stale cached score. */
  private stamps = 0;

  constructor(private readonly metrics: SchedulerMetrics) {}

  setNode(node: Node): void {
    const info = this.infoFor(node.ID);
    if (info.node === undefined) this.nodeSetChanged = true;
    const before = info.images;
    info.setNode(node);
    this.indexImages(info.slot, before, info.images);
    this.touch(info);
  }

  private indexImages(slot: number, before: ReadonlySet<string>, after: ReadonlySet<string>): void {
    if (before === after) return;
    for (const img of before) {
      if (after.has(img)) continue;
      const s = this.imageNodes.get(img);
      s?.delete(slot);
      if (s?.size === 0) this.imageNodes.delete(img);
    }
    for (const img of after) {
      if (before.has(img)) continue;
      let s = this.imageNodes.get(img);
      if (!s) this.imageNodes.set(img, (s = new Set()));
      s.add(slot);
    }
  }

  /** False if the node was not there. */
  removeNode(id: string): boolean {
    const info = this.byId.get(id);
    if (!info || info.node === undefined) return false;
    this.indexImages(info.slot, info.images, NO_IMAGES);
    info.images = NO_IMAGES;
    info.clearNode();
    this.nodeSetChanged = true;
    this.dropIfEmpty(info);
    return true;
  }

  infoFor(id: string): NodeInfo {
    let info = this.byId.get(id);
    if (!info) {
      const slot = this.freeSlots.length > 0 ? this.freeSlots.pop()! : this.infos.length;
      info = new NodeInfo(id, slot);
      this.infos[slot] = info;
      this.byId.set(id, info);
    }
    return info;
  }

  count(taskId: string, info: NodeInfo, serviceId: string, cpu: number, mem: number, ports: string[]): void {
    const before = this.counted.size;
    this.counted.set(taskId, { info, serviceId, cpu, mem, ports });
    assert(this.counted.size === before + 1, () => `task ${taskId} counted twice`);
    info.usedCpu += cpu;
    info.usedMem += mem;
    info.tasks++;
    this.touch(info);
    let perNode = this.svcIndex.get(serviceId);
    if (!perNode) this.svcIndex.set(serviceId, (perNode = new Map()));
    perNode.set(info.slot, (perNode.get(info.slot) ?? 0) + 1);
    if (ports.length > 0) {
      const table = (info.ports ??= new Map());
      for (const p of ports) {
        const n = table.get(p) ?? 0;
        table.set(p, n + 1);
        if (n === 0) this.portNodes.set(p, (this.portNodes.get(p) ?? 0) + 1);
      }
    }
  }

  /** False if the task was not counted. */
  release(taskId: string): boolean {
    const c = this.counted.get(taskId);
    if (!c) return false;
    this.counted.delete(taskId);
    const info = c.info;
    info.usedCpu -= c.cpu;
    info.usedMem -= c.mem;
    info.tasks--;
    this.touch(info);
    assert(info.tasks >= 0 && info.usedCpu >= 0 && info.usedMem >= 0, () => `node ${info.id} usage went negative`);
    const perNode = this.svcIndex.get(c.serviceId)!;
    const n = perNode.get(info.slot)! - 1;
    if (n > 0) perNode.set(info.slot, n);
    else {
      perNode.delete(info.slot);
      if (perNode.size === 0) this.svcIndex.delete(c.serviceId);
    }
    for (const p of c.ports) {
      const left = info.ports!.get(p)! - 1;
      if (left > 0) info.ports!.set(p, left);
      else {
        info.ports!.delete(p);
        const holders = this.portNodes.get(p)! - 1;
        if (holders > 0) this.portNodes.set(p, holders);
        else this.portNodes.delete(p);
      }
    }
    this.metrics.tasksReleased++;
    this.dropIfEmpty(info);
    return true;
  }

  private touch(info: NodeInfo): void {
    info.stamp = ++this.stamps;
    this.log.record(info.slot);
  }

  private dropIfEmpty(info: NodeInfo): void {
    if (!info.isEmpty()) return;
    this.byId.delete(info.id);
    this.infos[info.slot] = undefined;
    this.freeSlots.push(info.slot);
  }

  /** Recomputes every aggregate from the task table and asserts it matches (O(tasks + nodes)). */
  verify(): void {
    const want = new Map<NodeInfo, { cpu: number; mem: number; tasks: number; ports: Map<string, number> }>();
    const svc = new Map<string, Map<number, number>>();
    for (const [id, c] of this.counted) {
      assert(this.byId.get(c.info.id) === c.info, () => `task ${id} counted on a dropped node ${c.info.id}`);
      let w = want.get(c.info);
      if (!w) want.set(c.info, (w = { cpu: 0, mem: 0, tasks: 0, ports: new Map() }));
      w.cpu += c.cpu;
      w.mem += c.mem;
      w.tasks++;
      for (const p of c.ports) w.ports.set(p, (w.ports.get(p) ?? 0) + 1);
      let s = svc.get(c.serviceId);
      if (!s) svc.set(c.serviceId, (s = new Map()));
      s.set(c.info.slot, (s.get(c.info.slot) ?? 0) + 1);
    }
    const holders = new Map<string, number>();
    for (const info of this.byId.values()) {
      assert(this.infos[info.slot] === info, () => `node ${info.id} not at its slot`);
      assert(!info.isEmpty(), () => `empty node ${info.id} kept`);
      const w = want.get(info) ?? { cpu: 0, mem: 0, tasks: 0, ports: new Map<string, number>() };
      assert(info.usedCpu === w.cpu && info.usedMem === w.mem && info.tasks === w.tasks, () => `node ${info.id} usage drifted`);
      const have = info.ports ?? new Map<string, number>();
      assert(have.size === w.ports.size && [...w.ports].every(([p, n]) => have.get(p) === n), () => `node ${info.id} port table drifted`);
      for (const p of have.keys()) holders.set(p, (holders.get(p) ?? 0) + 1);
    }
    assert(holders.size === this.portNodes.size && [...holders].every(([p, n]) => this.portNodes.get(p) === n), 'port holder counts drifted');
    assert(svc.size === this.svcIndex.size, 'service index has stale services');
    for (const [sid, perNode] of svc) {
      const have = this.svcIndex.get(sid);
      assert(have !== undefined && have.size === perNode.size && [...perNode].every(([slot, n]) => have.get(slot) === n), () => `service index of ${sid} drifted`);
    }
  }
}
