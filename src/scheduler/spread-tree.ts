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
    levels: readonly NodeAttr[],
    infos: readonly (NodeInfo | undefined)[],
    svc: Int32Array,
    less: (a: number, b: number) => boolean,
  ) {
    const build = (b: Branch, nodes: number[], depth: number): void => {
      if (depth === levels.length) {
        b.leaf = new Heap(nodes, less);
        return;
      }
      const attr = levels[depth]!;
      const byValue = new Map<string, number[]>();
      for (const slot of nodes) {
        const v = attrValue(infos[slot]!, attr);
        let list = byValue.get(v);
        if (!list) byValue.set(v, (list = []));
        list.push(slot);
      }
      const kids: Branch[] = [];
      for (const [v, list] of byValue) {
        const k = new Branch(v);
        for (const slot of list) k.count += svc[slot]!;
        build(k, list, depth + 1);
        kids.push(k);
      }
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
