/**
 * A binary min-heap (by `less`) whose keys only ever change at its top. That
 * is all a group's placement needs: the node we just placed on is always the
 * top, and it is the only node whose key changed, so one sift-down (O(log n))
 * restores order. (push serves the frontier search of placement-index.ts.)
 */
export class Heap<T> {
  constructor(
    private readonly items: T[],
    private readonly less: (a: T, b: T) => boolean,
  ) {
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  get size(): number {
    return this.items.length;
  }

  top(): T {
    return this.items[0]!;
  }

  pop(): T {
    const items = this.items;
    const top = items[0]!;
    const last = items.pop()!;
    if (items.length > 0) {
      items[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  push(x: T): void {
    const items = this.items;
    let i = items.length;
    items.push(x);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(x, items[p]!)) break;
      items[i] = items[p]!;
      i = p;
    }
    items[i] = x;
  }

  /** The top's key changed: put it where it belongs. */
  fixTop(): void {
    this.siftDown(0);
  }

  private siftDown(i: number): void {
    const items = this.items;
    const n = items.length;
    const x = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(items[r]!, items[l]!) ? r : l;
      if (!this.less(items[c]!, x)) break;
      items[i] = items[c]!;
      i = c;
    }
    items[i] = x;
  }

  /** For tests and assertions: whether every parent is not greater than its children. */
  isValid(): boolean {
    for (let i = 1; i < this.items.length; i++) if (this.less(this.items[i]!, this.items[(i - 1) >> 1]!)) return false;
    return true;
  }
}
