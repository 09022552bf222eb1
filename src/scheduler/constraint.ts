/**
 * Placement constraints in Docker's syntax: `<key> == <value>` or
 * `<key> != <value>`, whitespace around the operator allowed, the value
 * optionally quoted. Values match case-insensitively (as in SwarmKit); label
 * names after `node.labels.` / `engine.labels.` keep their case. A node
 * without the label has the empty value: `==` fails, `!=` passes.
 *
 * Unlike SwarmKit, which parses any key and then never matches an unknown
 * one, an unknown key is a parse error: "constraint foo==bar not met on 10
 * nodes" would hide a typo behind a capacity-looking message.
 */
import { SchedulerError } from './errors.js';
import type { NodeInfo } from './node-info.js';
import { normalizeArch, normalizeOs } from './platform.js';

/** A property of a node that constraints and spread descriptors read. */
export type NodeAttr =
  | { kind: 'id' | 'hostname' | 'role' | 'os' | 'arch' }
  | { kind: 'label' | 'engineLabel'; name: string };

export interface Constraint {
  /** As the user meant it, normalised to `key==value` (used in reasons). */
  text: string;
  attr: NodeAttr;
  op: '==' | '!=';
  /** Lower-cased (and platform-normalised for os/arch), ready to compare with NodeInfo facts. */
  value: string;
}

const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const KEYS_HELP = 'node.id, node.hostname, node.role, node.platform.os, node.platform.arch, node.labels.<name> or engine.labels.<name>';

/** Reads a constraint/descriptor key; undefined if it names nothing we know. */
export function parseAttr(key: string): NodeAttr | undefined {
  const k = key.toLowerCase();
  switch (k) {
    case 'node.id':
      return { kind: 'id' };
    case 'node.hostname':
      return { kind: 'hostname' };
    case 'node.role':
      return { kind: 'role' };
    case 'node.platform.os':
      return { kind: 'os' };
    case 'node.platform.arch':
      return { kind: 'arch' };
  }
  if (k.startsWith('node.labels.') && key.length > 'node.labels.'.length) {
    return { kind: 'label', name: key.slice('node.labels.'.length) };
  }
  if (k.startsWith('engine.labels.') && key.length > 'engine.labels.'.length) {
    return { kind: 'engineLabel', name: key.slice('engine.labels.'.length) };
  }
  return undefined;
}

/** The node's value for attr, lower-cased; '' when absent. */
export function attrValue(info: NodeInfo, attr: NodeAttr): string {
  switch (attr.kind) {
    case 'id':
      return info.idLc;
    case 'hostname':
      return info.hostnameLc;
    case 'role':
      return info.roleLc;
    case 'os':
      return info.os;
    case 'arch':
      return info.arch;
    case 'label':
      return info.labelsLc.get(attr.name) ?? '';
    case 'engineLabel':
      return info.engineLabelsLc.get(attr.name) ?? '';
  }
}

function invalid(expr: string, why: string): SchedulerError {
  return new SchedulerError('INVALID_CONSTRAINT', `invalid constraint ${JSON.stringify(expr)}: ${why}`);
}

function unquote(v: string): string {
  if (v.length >= 2) {
    const q = v[0];
    if ((q === '"' || q === "'") && v[v.length - 1] === q) return v.slice(1, -1);
  }
  return v;
}

/** Parses one constraint; throws SchedulerError INVALID_CONSTRAINT with a message fit for a user. */
export function parseConstraint(expr: string): Constraint {
  if (typeof expr !== 'string') throw invalid(String(expr), 'not a string');
  const e = expr.trim();
  if (e === '') throw invalid(expr, 'empty');
  const eq = e.indexOf('==');
  const ne = e.indexOf('!=');
  const at = eq < 0 ? ne : ne < 0 ? eq : Math.min(eq, ne);
  if (at < 0) throw invalid(expr, 'no operator (expected == or !=)');
  const op = e.slice(at, at + 2) as '==' | '!=';
  const key = e.slice(0, at).trim();
  const rest = e.slice(at + 2);
  if (rest.includes('==') || rest.includes('!=')) throw invalid(expr, 'more than one operator');
  const raw = unquote(rest.trim());
  if (key === '') throw invalid(expr, 'empty key');
  if (!KEY_RE.test(key)) throw invalid(expr, `bad key ${JSON.stringify(key)}`);
  if (raw.trim() === '') throw invalid(expr, 'empty value');
  const attr = parseAttr(key);
  if (!attr) throw invalid(expr, `unknown key ${JSON.stringify(key)} (expected ${KEYS_HELP})`);
  let value = raw.toLowerCase();
  if (attr.kind === 'arch') value = normalizeArch(raw);
  else if (attr.kind === 'os') value = normalizeOs(raw);
  return { text: `${key}${op}${raw}`, attr, op, value };
}

export function parseConstraints(list: readonly string[] | undefined): Constraint[] {
  if (!list) return [];
  return list.map(parseConstraint);
}

export function constraintMatches(c: Constraint, info: NodeInfo): boolean {
  return (attrValue(info, c.attr) === c.value) === (c.op === '==');
}

/** Parses a spread descriptor (`node.labels.zone`); throws SchedulerError INVALID_PREFERENCE. */
export function parseSpreadDescriptor(d: string): NodeAttr {
  const key = typeof d === 'string' ? d.trim() : '';
  const attr = KEY_RE.test(key) ? parseAttr(key) : undefined;
  if (!attr) {
    throw new SchedulerError('INVALID_PREFERENCE', `invalid spread descriptor ${JSON.stringify(d)} (expected ${KEYS_HELP})`);
  }
  return attr;
}
