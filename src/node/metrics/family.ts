/**
 * Metric families for prom-client, read from the plain counters and
 * histograms the modules keep (`metrics.ts` in each). A family is a
 * prom-client custom metric: prom-client asks for its samples at scrape
 * time, and formats, escapes and serves them. The modules' hot paths only
 * ever bump numbers.
 */
import type { Histogram } from '../../util/histogram.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Labels = Record<string, string | number>;

export interface Sample {
  labels?: Labels;
  value: number;
  /** For histograms: `_bucket`, `_sum`, `_count` (prom-client prints metricName as given). */
  metricName?: string;
}

/** What prom-client's Registry.registerMetric() takes: it calls get() on every scrape. */
export interface Family {
  name: string;
  help: string;
  get(): Promise<{ name: string; help: string; type: MetricType; values: Sample[]; aggregator: 'sum' }>;
  /** prom-client calls these on reset and when it builds a combined registry; a family holds nothing to reset. */
  reset(): void;
}

export function family(name: string, help: string, type: MetricType, read: () => Sample[] | Promise<Sample[]>): Family {
  return {
    name,
    help,
    async get() {
      let values: Sample[];
      try {
        values = await read();
      } catch {
        // A part of the node that is stopping (or not there) has nothing to say: an empty family, never a failed scrape.
        values = [];
      }
      return { name, help, type, values, aggregator: 'sum' };
    },
    reset() {},
  };
}

/**
 * The samples of one histogram kept in milliseconds, exported in seconds as
 * Prometheus names them (cumulative `_bucket`s with `le`, `_sum`, `_count`),
 * with extra labels.
 */
export function secondsHistogramSamples(name: string, msHist: Histogram, labels: Labels = {}): Sample[] {
  const out: Sample[] = msHist.cumulative().map(([le, n]) => ({ metricName: `${name}_bucket`, labels: { ...labels, le: le === Infinity ? '+Inf' : String(le / 1000) }, value: n }));
  out.push({ metricName: `${name}_sum`, labels, value: msHist.sum / 1000 });
  out.push({ metricName: `${name}_count`, labels, value: msHist.count });
  return out;
}

/** `packetsIn` → `packets_in`. */
export function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/**
 * One counter family per numeric field of a plain counters object
 * (`shoal_<prefix>_<field>_total`), and one labelled family per
 * Record<string, number> field (`labelName` names its key, e.g. reason).
 * Fields named in `gauges` are levels, not counts, and are exported as gauges
 * without `_total`. `get` may return null: the part is absent on this node
 * (a worker has no Raft) and the families are empty.
 */
export function counterFamilies(
  prefix: string,
  what: string,
  /** The fields to export, as a zeroed instance of the counters (the live object may be absent at build time). */
  sample: object,
  get: () => object | null | undefined,
  opts: { gauges?: readonly string[]; labelName?: string; skip?: readonly string[] } = {},
): Family[] {
  const out: Family[] = [];
  for (const [field, v] of Object.entries(sample)) {
    if (opts.skip?.includes(field)) continue;
    const read = () => (get() as Record<string, unknown> | null | undefined)?.[field];
    const base = `shoal_${prefix}_${snake(field)}`;
    if (typeof v === 'number') {
      const gauge = opts.gauges?.includes(field) ?? false;
      out.push(
        family(gauge ? base : `${base}_total`, `${what}: ${field}`, gauge ? 'gauge' : 'counter', () => {
          const n = read();
          return typeof n === 'number' ? [{ value: n }] : [];
        }),
      );
    } else if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Map)) {
      const label = opts.labelName ?? 'reason';
      out.push(
        family(`${base}_total`, `${what}: ${field}, by ${label}`, 'counter', () => {
          const r = read() as Record<string, number> | undefined;
          return r ? Object.entries(r).filter(([, n]) => typeof n === 'number').map(([k, n]) => ({ labels: { [label]: k }, value: n })) : [];
        }),
      );
    }
  }
  return out;
}
