/**
 * Placement constraints for global services ("node.role==manager",
 * "node.labels.zone!=a", …), the Docker syntax.
 *
 * A deliberately small matcher so the orchestrator does not depend on the
 * scheduler's work in progress; it should be unified with
 * src/scheduler's constraint parser once that settles (same syntax, same
 * case-insensitive value comparison as SwarmKit).
 */
import type { Node } from '../../model/index.js';

export interface Constraint {
  key: string;
  op: '==' | '!=';
  value: string;
}

export type ParsedConstraints = { ok: true; constraints: Constraint[] } | { ok: false; error: string };

export function parseConstraints(exprs: readonly string[] | undefined): ParsedConstraints {
  const out: Constraint[] = [];
  for (const raw of exprs ?? []) {
    const m = /^\s*([A-Za-z0-9_.\-/]+)\s*(==|!=)\s*(.*?)\s*$/.exec(raw);
    if (!m || m[3] === '') return { ok: false, error: `cannot parse constraint ${JSON.stringify(raw)}` };
    const key = m[1]!;
    const lower = key.toLowerCase();
    const known =
      lower === 'node.id' ||
      lower === 'node.hostname' ||
      lower === 'node.role' ||
      lower === 'node.platform.os' ||
      lower === 'node.platform.arch' ||
      (lower.startsWith('node.labels.') && key.length > 'node.labels.'.length) ||
      (lower.startsWith('engine.labels.') && key.length > 'engine.labels.'.length);
    if (!known) return { ok: false, error: `unknown constraint key ${JSON.stringify(key)}` };
    out.push({ key, op: m[2] as '==' | '!=', value: m[3]! });
  }
  return { ok: true, constraints: out };
}

/** The node attribute a constraint names; undefined when the node has no such label. */
function attribute(n: Node, key: string): string | undefined {
  const lower = key.toLowerCase();
  switch (lower) {
    case 'node.id':
      return n.ID;
    case 'node.hostname':
      return n.Description?.Hostname;
    case 'node.role':
      return n.Spec.Role;
    case 'node.platform.os':
      return n.Description?.Platform?.OS;
    case 'node.platform.arch':
      return n.Description?.Platform?.Architecture;
  }
  // Label names keep their case (they are user data); the prefix does not.
  if (lower.startsWith('node.labels.')) return n.Spec.Labels?.[key.slice('node.labels.'.length)];
  return n.Description?.Engine?.Labels?.[key.slice('engine.labels.'.length)];
}

/** All constraints hold. Values compare case-insensitively; a missing label equals nothing (so `!=` holds). */
export function nodeMatches(constraints: readonly Constraint[], n: Node): boolean {
  for (const c of constraints) {
    const v = attribute(n, c.key);
    const eq = v !== undefined && v.toLowerCase() === c.value.toLowerCase();
    if ((c.op === '==') !== eq) return false;
  }
  return true;
}
