/**
 * A fixed-bucket histogram of plain numbers: what a module observes on its
 * own path without depending on a metrics library (the node's /metrics
 * exporter reads it, src/node/metrics/). Cumulative counts are computed when
 * read, so observe() is a loop over a few bounds and two additions.
 */
export class Histogram {
  /** counts[i]: observations ≤ bounds[i] and > bounds[i-1]; the last slot holds those above every bound. */
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly bounds: readonly number[]) {
    for (let i = 1; i < bounds.length; i++) if (!(bounds[i]! > bounds[i - 1]!)) throw new RangeError(`histogram bounds must increase: ${bounds.join(', ')}`);
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(v: number): void {
    if (!Number.isFinite(v)) return;
    let i = 0;
    while (i < this.bounds.length && v > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** [upper bound, observations ≤ it], ending with +Inf = count: the Prometheus bucket series. */
  cumulative(): [number, number][] {
    const out: [number, number][] = [];
    let acc = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      acc += this.counts[i]!;
      out.push([this.bounds[i]!, acc]);
    }
    out.push([Infinity, this.count]);
    return out;
  }
}

/** Milliseconds from 0.5 ms to 10 s: fsyncs, commits, RTTs and API calls all fall inside. */
export const MS_BUCKETS: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
