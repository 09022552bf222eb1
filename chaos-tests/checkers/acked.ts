/**
 * Acknowledged writes survive: after the faults heal and the managers have
 * caught up, every acknowledged append on the log keys must be in the value
 * every manager holds, every acknowledged service create must be in every
 * manager's service list, and the managers' own (local, no barrier) copies
 * of every key must be identical. Puts and CAS results are judged by the
 * linearizability checker, which sees the final reads too.
 */
import type { ServiceOp } from '../workload/services.js';
import type { History } from '../workload/history.js';
import { LOG_KEYS, tokens } from '../workload/keys.js';
import type { Verdict } from './verdict.js';

export interface FinalState {
  /** manager name → key → its local value (null: absent; undefined: it did not answer). */
  values: Map<string, Map<string, string | null | undefined>>;
  /** manager name → service IDs it lists (null: it did not answer). */
  services: Map<string, Set<string> | null>;
}

export function checkAcked(history: History, serviceOps: ServiceOp[], final: FinalState): Verdict & { lost: number; acked: number } {
  const details: string[] = [];
  let lost = 0;
  let acked = 0;
  for (const o of history.ops) {
    if (o.model !== 'kv' || o.outcome !== 'ok' || o.input.op !== 'append' || !LOG_KEYS.includes(o.key)) continue;
    acked++;
    const token = o.input.value.replace(/;$/, '');
    const missing = [...final.values].filter(([, kv]) => !tokens(kv.get(o.key) ?? '').has(token)).map(([m]) => m);
    if (missing.length > 0) {
      lost++;
      if (details.length < 20) details.push(`append ${JSON.stringify(o.input.value)} to ${o.key} (acknowledged by ${o.node} at ${Math.round(o.ret)} ms) missing on ${missing.join(', ')}`);
    }
  }
  for (const s of serviceOps) {
    if (s.kind !== 'create' || s.outcome !== 'ok' || !s.id) continue;
    acked++;
    const missing = [...final.services].filter(([, ids]) => !ids?.has(s.id!)).map(([m]) => m);
    if (missing.length > 0) {
      lost++;
      details.push(`service ${s.name} (${s.id}, created via ${s.node} at ${Math.round(s.ret)} ms) missing on ${missing.join(', ')}`);
    }
  }
  // The managers' copies must be the same (a manager that did not answer counts as diverged).
  let diverged = 0;
  const keys = new Set([...final.values.values()].flatMap((kv) => [...kv.keys()]));
  for (const k of keys) {
    const vals = [...final.values].map(([m, kv]) => [m, kv.get(k)] as const);
    if (new Set(vals.map(([, v]) => (v === undefined ? '<no answer>' : JSON.stringify(v)))).size > 1) {
      diverged++;
      details.push(`key ${k} differs between managers: ${vals.map(([m, v]) => `${m}=${v === undefined ? '<no answer>' : JSON.stringify((v ?? 'null').slice(-40))}`).join(' ')}`);
    }
  }
  const pass = lost === 0 && diverged === 0;
  return {
    name: 'acked-writes',
    pass,
    lost,
    acked,
    summary: `${acked} acknowledged appends/creates, ${lost} lost${diverged ? `, ${diverged} keys differ between managers` : ''}`,
    details,
  };
}
