/**
 * Placement.Preferences: each spread descriptor (e.g. node.labels.zone) splits
 * the eligible nodes by value, nested in the order given. Each task goes to
 * the value holding the fewest tasks of its service (ties by value), and
 * inside it to the best node by the strategy's order. Nodes without the label
 * form a branch of their own (value ''), as in SwarmKit.
 *
 * Every level is a heap, and a placement only changes the branches on the
 * path to the chosen node (each the top of its parent's heap), so choosing
 * and updating cost O(levels × log n) instead of a scan.
 */
import { attrValue, type NodeAttr } from './constraint.js';
import { Heap } from './heap.js';
import type { NodeInfo } from './node-info.js';

/** Every node's value for one descriptor, as small integers: computed once per batch, not once per group. */
export interface DescriptorValues {
  /** slot → index into names. */
  ids: Int32Array;
  names: string[];
}

export function descriptorValues(attr: NodeAttr, nodes: readonly NodeInfo[], slots: number): DescriptorValues {
  const ids = new Int32Array(slots);
  const names: string[] = [];
  const byName = new Map<string, number>();
  for (const info of nodes) {
    const v = attrValue(info, attr);
    let id = byName.get(v);
    if (id === undefined) {
      id = names.length;
      names.push(v);
      byName.set(v, id);
    }
    ids[info.slot] = id;
  }
  return { ids, names };
}

/** Cache key of a descriptor. */
export function attrKey(attr: NodeAttr): string {
  return 'name' in attr ? `${attr.kind}:${attr.name}` : attr.kind;
}

class Branch {
  /** Tasks of the service on the branch's eligible nodes (placements included). */
  count = 0;
  leaf: Heap<number> | undefined = undefined;
  kids: Heap<Branch> | undefined = undefined;
  constructor(readonly value: string) {}

  get empty(): boolean {
    return (this.leaf ?? this.kids)!.size === 0;
  }
}

const branchLess = (a: Branch, b: Branch): boolean =>
  a.count !== b.count ? a.count < b.count : a.value < b.value;

export class NodeChooser {
  private readonly root: Branch;
  /** Branches below the root on the way to the last peek()'s node. */
  private readonly path: Branch[] = [];

  /**
   * @param slots eligible nodes (slots), each able to take at least one task
   * @param svc   tasks of the group's service per slot
   * @param less  the strategy's node order
   */
  constructor(
    slots: number[],
    levels: readonly DescriptorValues[],
    svc: Int32Array,
    less: (a: number, b: number) => boolean,
  ) {
    const build = (b: Branch, nodes: number[], depth: number): void => {
      if (depth === levels.length) {
        b.leaf = new Heap(nodes, less);
        return;
      }
      const { ids, names } = levels[depth]!;
      const byValue: (Branch | undefined)[] = new Array(names.length);
      const lists: (number[] | undefined)[] = new Array(names.length);
      const kids: Branch[] = [];
      const kidIds: number[] = [];
      for (const slot of nodes) {
        const id = ids[slot]!;
        let k = byValue[id];
        if (k === undefined) {
          byValue[id] = k = new Branch(names[id]!);
          lists[id] = [];
          kids.push(k);
          kidIds.push(id);
        }
        k.count += svc[slot]!;
        lists[id]!.push(slot);
      }
      for (let i = 0; i < kids.length; i++) build(kids[i]!, lists[kidIds[i]!]!, depth + 1);
      b.kids = new Heap(kids, branchLess);
    };
    this.root = new Branch('');
    build(this.root, slots, 0);
  }

  /** The best node for the next task, or -1 when no eligible node is left. */
  peek(): number {
    this.path.length = 0;
    let b = this.root;
    if (b.empty) return -1;
    while (b.kids !== undefined) {
      b = b.kids.top();
      this.path.push(b);
    }
    return b.leaf!.top();
  }

  /**
   * The node peek() returned took a task (its usage and svc count are already
   * updated). keep = it can take another task of the group.
   */
  placed(keep: boolean): void {
    const path = this.path;
    const leafBranch = path.length > 0 ? path[path.length - 1]! : this.root;
    if (keep) leafBranch.leaf!.fixTop();
    else leafBranch.leaf!.pop();
    for (let i = path.length - 1; i >= 0; i--) {
      const b = path[i]!;
      b.count++;
      const parent = i > 0 ? path[i - 1]! : this.root;
      if (b.empty) parent.kids!.pop();
      else parent.kids!.fixTop();
    }
  }
}
