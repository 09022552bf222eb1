/**
 * The KV key space of the workload, in three kinds:
 *  - register keys (get / put / append): the KV model's general case;
 *  - log keys (append / get only): every acknowledged append leaves a unique
 *    token that must still be there at the end, on every manager;
 *  - CAS keys (read / write / cas of small integers): the CAS-register model.
 */
export const REGISTER_KEYS = ['r0', 'r1'];
export const LOG_KEYS = ['l0', 'l1'];
export const CAS_KEYS = ['c0', 'c1'];
export const ALL_KEYS = [...REGISTER_KEYS, ...LOG_KEYS, ...CAS_KEYS];

/** Append tokens: `<client>.<n>;` — unique per run, so presence is checkable. */
export const TOKEN_RE = /(\d+\.\d+);/g;

export function tokens(value: string): Set<string> {
  return new Set([...value.matchAll(TOKEN_RE)].map((m) => m[1]!));
}
