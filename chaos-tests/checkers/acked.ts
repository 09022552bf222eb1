/**
 * Acknowledged writes survive: after the faults heal and the managers have
 * caught up, every acknowledged append on the log keys must be in the value
 * every manager holds, every acknowledged service create must be in every
 * manager's service list, every service's spec must be the one its last
 * acknowledged create/update/scale wrote (or one a later op of unknown
 * outcome wrote), and the managers' own (local, no barrier) copies of every
 * key must be identical. Puts and CAS results are judged by the
 * linearizability checker, which sees the final reads too.
 */
import type { ServiceOp, SpecMark } from '../workload/services.js';
import type { History } from '../workload/history.js';
import { LOG_KEYS, tokens } from '../workload/keys.js';
import type { Verdict } from './verdict.js';

export interface FinalState {
  /** manager name → key → its local value (null: absent; undefined: it did not answer). */
  values: Map<string, Map<string, string | null | undefined>>;
  /** manager name → service ID → the varied part of its spec (null: it did not answer). */
  services: Map<string, Map<string, SpecMark> | null>;
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
  // Service changes: one sequential client writes whole specs, and updates
  // carry ?version=, so the spec a manager holds is the one written by the
  // last op that took effect — the last acknowledged one, or a later one
  // whose outcome is unknown. (A definite failure did not take effect.)
  const byName = new Map<string, ServiceOp[]>();
  for (const s of serviceOps) byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  for (const [name, ops] of byName) {
    const id = ops.find((o) => o.kind === 'create' && o.outcome === 'ok')?.id;
    if (!id) continue;
    let last = -1;
    ops.forEach((o, i) => {
      if (o.outcome === 'ok' && o.wrote) last = i;
    });
    if (last < 0) continue;
    const lastOk = ops[last]!;
    if (lastOk.kind !== 'create') acked++;
    const allowed = [lastOk, ...ops.slice(last + 1).filter((o) => o.outcome === 'unknown' && o.wrote)].map((o) => o.wrote!);
    const wrong = [...final.services].filter(([, specs]) => {
      const got = specs?.get(id);
      return got !== undefined && !allowed.some((a) => a.replicas === got.replicas && a.gen === got.gen);
    });
    if (wrong.length > 0) {
      lost++;
      const mark = (w: SpecMark) => `replicas ${w.replicas} gen ${w.gen}`;
      details.push(
        `service ${name}: acknowledged ${lastOk.kind} to ${mark(lastOk.wrote!)} (via ${lastOk.node} at ${Math.round(lastOk.ret)} ms)` +
          `${allowed.length > 1 ? ` or ${allowed.length - 1} later unknown op(s)` : ''}, but ${wrong.map(([m, sp]) => `${m} holds ${mark(sp!.get(id)!)}`).join(', ')}`,
      );
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
    summary: `${acked} acknowledged appends/creates/service changes, ${lost} lost${diverged ? `, ${diverged} keys differ between managers` : ''}`,
    details,
  };
}
