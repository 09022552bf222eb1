/**
 * A deliberately naive scheduler: for every task, evaluate every filter on
 * every node from the raw Node/Task objects, then pick the best node with a
 * linear scan. O(tasks × nodes), no groups, no heaps, no caches. The batch
 * test checks that the real scheduler places exactly as this one does on
 * random clusters, so its heaps, trees, group caches and incremental
 * aggregates are proven against something too simple to be wrong.
 *
 * It shares only the constraint parser (tested on its own) and the binpack
 * formula (ditto) with the code under test.
 */
import { constraintHolds } from '../../src/model/constraints.js';
import type { Node, Task } from '../../src/model/index.js';
import { parseConstraint, parseSpreadDescriptor, type Constraint, type NodeAttr } from '../../src/scheduler/constraint.js';
import type { HostPort, Strategy } from '../../src/scheduler/interface.js';
import { normalizeArch, normalizeOs } from '../../src/model/platform.js';
import { binpackScore } from '../../src/scheduler/score-binpack.js';

interface Held {
  node: string;
  service: string;
  cpu: number;
  mem: number;
  ports: string[];
}

export interface RefHints {
  strategy?: Strategy;
  hostPorts?: HostPort[];
}

const res = (t: Task): { cpu: number; mem: number } => ({
  cpu: t.Spec.Resources?.Reservations?.NanoCPUs ?? 0,
  mem: t.Spec.Resources?.Reservations?.MemoryBytes ?? 0,
});

function attr(n: Node, a: NodeAttr): string {
  switch (a.kind) {
    case 'id':
      return n.ID.toLowerCase();
    case 'hostname':
      return n.Description.Hostname.toLowerCase();
    case 'ip':
      return n.Status.Addr ?? '';
    case 'role':
      return n.Spec.Role;
    case 'os':
      return normalizeOs(n.Description.Platform.OS);
    case 'arch':
      return normalizeArch(n.Description.Platform.Architecture);
    case 'label':
      return (n.Spec.Labels?.[a.name] ?? '').toLowerCase();
    case 'engineLabel':
      return (n.Description.Engine.Labels?.[a.name] ?? '').toLowerCase();
  }
}

export class ReferenceScheduler {
  nodes = new Map<string, Node>();
  held = new Map<string, Held>();

  constructor(private readonly strategy: Strategy) {}

  assign(t: Task, ports: HostPort[] = []): void {
    const { cpu, mem } = res(t);
    this.held.set(t.ID, { node: t.NodeID, service: t.ServiceID, cpu, mem, ports: ports.map((p) => `${p.protocol}/${p.port}`) });
  }

  private usage(nodeId: string): { cpu: number; mem: number; tasks: number } {
    let cpu = 0, mem = 0, tasks = 0;
    for (const h of this.held.values()) if (h.node === nodeId) { cpu += h.cpu; mem += h.mem; tasks++; }
    return { cpu, mem, tasks };
  }

  private svcCount(nodeId: string, service: string): number {
    let n = 0;
    for (const h of this.held.values()) if (h.node === nodeId && h.service === service) n++;
    return n;
  }

  private portUsed(nodeId: string, p: string): boolean {
    for (const h of this.held.values()) if (h.node === nodeId && h.ports.includes(p)) return true;
    return false;
  }

  /** Whether the node can take one more task like t now; the reason key of the first failure otherwise. */
  fails(n: Node, t: Task, cs: Constraint[], ports: string[]): string | null {
    if (n.Status.State !== 'ready') return `state:${n.Status.State}`;
    if (n.Spec.Availability !== 'active') return `avail:${n.Spec.Availability}`;
    const pl = t.Spec.Placement?.Platforms;
    if (pl && pl.length > 0) {
      const os = normalizeOs(n.Description.Platform.OS), arch = normalizeArch(n.Description.Platform.Architecture);
      if (!pl.some((p) => (!p.OS || normalizeOs(p.OS) === os) && (!p.Architecture || normalizeArch(p.Architecture) === arch))) return 'platform';
    }
    const rt = t.Spec.Runtime;
    if (rt && n.Description.Runtimes && !n.Description.Runtimes.includes(rt)) return `runtime:${rt}`;
    for (const c of cs) if (!(c.block ? constraintHolds(c, attr(n, c.attr)) : (attr(n, c.attr) === c.match) === (c.op === '=='))) return `constraint:${c.text}`;
    const u = this.usage(n.ID);
    const { cpu, mem } = res(t);
    if (cpu > 0 && (n.Description.Resources.NanoCPUs ?? 0) - u.cpu < cpu) return 'cpu';
    if (mem > 0 && (n.Description.Resources.MemoryBytes ?? 0) - u.mem < mem) return 'mem';
    const mr = t.Spec.Placement?.MaxReplicas ?? 0;
    if (mr > 0 && this.svcCount(n.ID, t.ServiceID) >= mr) return 'maxrep';
    for (const p of ports) if (this.portUsed(n.ID, p)) return `port:${p}`;
    return null;
  }

  /** Places tasks one by one in the order the real scheduler processes them (groups by first appearance). */
  schedule(order: Task[][], hints: Map<string, RefHints>): { placed: { taskId: string; nodeId: string }[]; unplaced: { taskId: string; reasons: Map<string, number> }[] } {
    const placed: { taskId: string; nodeId: string }[] = [];
    const unplaced: { taskId: string; reasons: Map<string, number> }[] = [];
    const ids = [...this.nodes.keys()].sort();
    for (const group of order) {
      const first = group[0]!;
      const h = hints.get(first.ServiceID) ?? {};
      const strategy = h.strategy ?? this.strategy;
      const ports = [...new Set((h.hostPorts ?? []).map((p) => `${p.protocol}/${p.port}`))];
      const cs = (first.Spec.Placement?.Constraints ?? []).map(parseConstraint);
      const levels = (first.Spec.Placement?.Preferences ?? []).map((p) => parseSpreadDescriptor(p.Spread.SpreadDescriptor));
      const { cpu, mem } = res(first);
      const binpack = strategy === 'binpack' && (cpu > 0 || mem > 0);
      // Branch counts: the service's tasks on nodes eligible when the group started.
      const startEligible = ids.filter((id) => this.fails(this.nodes.get(id)!, first, cs, ports) === null);
      const branchCount = new Map<string, number>();
      const path = (id: string, depth: number): string => levels.slice(0, depth).map((l) => attr(this.nodes.get(id)!, l)).join('\u0000');
      for (const id of startEligible) for (let d = 1; d <= levels.length; d++) {
        const k = `${d}:${path(id, d)}`;
        branchCount.set(k, (branchCount.get(k) ?? 0) + this.svcCount(id, first.ServiceID));
      }
      for (const t of group) {
        let cands = startEligible.filter((id) => this.fails(this.nodes.get(id)!, t, cs, ports) === null);
        for (let d = 1; d <= levels.length && cands.length > 0; d++) {
          let best: string | undefined;
          let bestCount = Infinity;
          let bestVal = '';
          for (const id of cands) {
            const v = attr(this.nodes.get(id)!, levels[d - 1]!);
            const c = branchCount.get(`${d}:${path(id, d)}`)!;
            if (c < bestCount || (c === bestCount && v < bestVal)) { best = path(id, d); bestCount = c; bestVal = v; }
          }
          cands = cands.filter((id) => path(id, d) === best);
        }
        if (cands.length === 0) {
          const reasons = new Map<string, number>();
          for (const id of ids) {
            const f = this.fails(this.nodes.get(id)!, t, cs, ports)!;
            reasons.set(f, (reasons.get(f) ?? 0) + 1);
          }
          unplaced.push({ taskId: t.ID, reasons });
          continue;
        }
        const key = (id: string): number[] => {
          const n = this.nodes.get(id)!;
          const u = this.usage(id);
          const score = binpack ? binpackScore(n.Description.Resources.NanoCPUs ?? 0, n.Description.Resources.MemoryBytes ?? 0, u.cpu + cpu, u.mem + mem) : 0;
          return [this.svcCount(id, t.ServiceID), -score, u.tasks];
        };
        let bestId = cands[0]!;
        let bestKey = key(bestId);
        for (const id of cands.slice(1)) {
          const k = key(id);
          const less = k[0]! !== bestKey[0]! ? k[0]! < bestKey[0]! : k[1]! !== bestKey[1]! ? k[1]! < bestKey[1]! : k[2]! < bestKey[2]!;
          if (less) { bestId = id; bestKey = k; }
        }
        this.held.set(t.ID, { node: bestId, service: t.ServiceID, cpu, mem, ports });
        for (let d = 1; d <= levels.length; d++) {
          const k = `${d}:${path(bestId, d)}`;
          branchCount.set(k, branchCount.get(k)! + 1);
        }
        placed.push({ taskId: t.ID, nodeId: bestId });
      }
    }
    return { placed, unplaced };
  }
}
