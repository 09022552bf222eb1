/**
 * Why nodes were rejected, counted per cause and folded into one message per
 * unplaced task, in the shape SwarmKit puts in Task.Status.Message:
 *   "no suitable node (insufficient memory on 3 nodes; constraint node.labels.zone==a not met on 2 nodes)".
 * Each node is counted once, under the first filter it failed, so the counts
 * add up to the nodes considered (an invariant the scheduler asserts).
 */

/** Filter causes in pipeline order (also the tie-break order in messages). */
export const Why = {
  NOT_FOUND: 0,
  NOT_READY: 1,
  UNAVAILABLE: 2,
  PLATFORM: 3,
  RUNTIME: 4,
  CONSTRAINT: 5,
  CPU: 6,
  MEMORY: 7,
  MAX_REPLICAS: 8,
  PORT: 9,
} as const;
export type Why = (typeof Why)[keyof typeof Why];

interface Entry {
  why: Why;
  detail: string;
  count: number;
}

function phrase(why: Why, detail: string): string {
  switch (why) {
    case Why.NOT_FOUND:
      return `node ${detail} not found`;
    case Why.NOT_READY:
      return detail === 'unknown' ? 'node state unknown' : `node ${detail}`;
    case Why.UNAVAILABLE:
      return detail === 'drain' ? 'node drained' : detail === 'pause' ? 'node paused' : `node availability ${detail}`;
    case Why.PLATFORM:
      return 'unsupported platform';
    case Why.RUNTIME:
      return `runtime ${detail} not available`;
    case Why.CONSTRAINT:
      return `constraint ${detail} not met`;
    case Why.CPU:
      return 'insufficient cpu';
    case Why.MEMORY:
      return 'insufficient memory';
    case Why.MAX_REPLICAS:
      return `max replicas per node (${detail}) reached`;
    case Why.PORT: {
      const [proto, port] = detail.split('/');
      return `host port ${port}/${proto} in use`;
    }
  }
}

const nodes = (n: number): string => (n === 1 ? '1 node' : `${n} nodes`);

export class ReasonCounts {
  /** Indexed by Why, then detail: no string building per rejected node (this is on the per-node path). */
  private readonly byWhy: (Map<string, Entry> | undefined)[] = [];
  total = 0;

  add(why: Why, detail = '', n = 1): void {
    let m = this.byWhy[why];
    if (m === undefined) this.byWhy[why] = m = new Map();
    const e = m.get(detail);
    if (e !== undefined) e.count += n;
    else m.set(detail, { why, detail, count: n });
    this.total += n;
  }

  addAll(o: ReasonCounts): void {
    for (const e of o.entries()) this.add(e.why, e.detail, e.count);
  }

  /** Count for one cause (tests, metrics). */
  get(why: Why, detail = ''): number {
    return this.byWhy[why]?.get(detail)?.count ?? 0;
  }

  private entries(): Entry[] {
    const out: Entry[] = [];
    for (const m of this.byWhy) if (m !== undefined) for (const e of m.values()) out.push(e);
    return out;
  }

  /** The user-facing message; the most frequent causes first, at most maxReasons of them. */
  format(maxReasons: number): string {
    if (this.total === 0) return 'no suitable node (no nodes available)';
    const entries = this.entries().sort(
      (a, b) => b.count - a.count || a.why - b.why || (a.detail < b.detail ? -1 : a.detail > b.detail ? 1 : 0),
    );
    const parts: string[] = [];
    let rest = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (i < maxReasons) parts.push(e.why === Why.NOT_FOUND ? phrase(e.why, e.detail) : `${phrase(e.why, e.detail)} on ${nodes(e.count)}`);
      else rest += e.count;
    }
    if (rest > 0) parts.push(`other reasons on ${nodes(rest)}`);
    return `no suitable node (${parts.join('; ')})`;
  }
}
