/**
 * The `filters` query parameter: a JSON object of key → values, in either of
 * Docker's encodings — `{"name":{"web":true}}` (current) or
 * `{"name":["web"]}` (pre-1.22 clients, still accepted by dockerd).
 *
 * Matching follows SwarmKit: values of one key are alternatives (OR), keys
 * combine with AND; id and name filters match by prefix; label filters are
 * `key` (present) or `key=value`, and every one of them must hold.
 */
import { badRequest } from './errors.js';
import type { Labels } from '../../model/index.js';

export class Filters {
  constructor(private readonly m: Map<string, string[]>) {}

  has(key: string): boolean {
    return this.m.has(key);
  }

  get(key: string): string[] {
    return this.m.get(key) ?? [];
  }

  /** True when the key is absent, or one of its values is a prefix of `value`. */
  prefix(key: string, ...values: (string | undefined)[]): boolean {
    const want = this.m.get(key);
    if (!want) return true;
    return want.some((w) => values.some((v) => v !== undefined && v.startsWith(w)));
  }

  /** True when the key is absent, or `value` equals one of its values. */
  exact(key: string, value: string | undefined): boolean {
    const want = this.m.get(key);
    if (!want) return true;
    return value !== undefined && want.includes(value);
  }

  /** True when the key is absent, or every `k` / `k=v` value holds in `labels`. */
  labels(key: string, labels: Labels | undefined): boolean {
    const want = this.m.get(key);
    if (!want) return true;
    const l = labels ?? {};
    return want.every((w) => {
      const eq = w.indexOf('=');
      if (eq < 0) return Object.prototype.hasOwnProperty.call(l, w);
      const k = w.slice(0, eq);
      return Object.prototype.hasOwnProperty.call(l, k) && l[k] === w.slice(eq + 1);
    });
  }
}

/** Parses `?filters=`; unknown keys are a 400, as in dockerd ("invalid filter 'x'"). */
export function parseFilters(raw: string | null, accepted: readonly string[]): Filters {
  const m = new Map<string, string[]>();
  if (raw === null || raw.trim() === '') return new Filters(m);
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (err) {
    throw badRequest(`malformed JSON: ${(err as Error).message}`, 'filters');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('must be a JSON object of key → values', 'filters');
  for (const [key, val] of Object.entries(v)) {
    if (!accepted.includes(key)) throw badRequest(`invalid filter '${key}' (accepted: ${accepted.filter((k) => !k.startsWith('_')).join(', ')})`, 'filters');
    let values: string[];
    if (Array.isArray(val)) {
      if (!val.every((x) => typeof x === 'string')) throw badRequest(`values of '${key}' must be strings`, 'filters');
      values = val as string[];
    } else if (typeof val === 'object' && val !== null) {
      values = Object.entries(val)
        .filter(([, on]) => on === true)
        .map(([k]) => k);
    } else {
      throw badRequest(`values of '${key}' must be a list or a {value: true} map`, 'filters');
    }
    m.set(key, values);
  }
  return new Filters(m);
}
