/**
 * Placement constraints and spread descriptors: the one grammar. The CLI
 * checks flags with it, the API validates specs with it, the orchestrator
 * (global services) and the scheduler (everything else) evaluate it, so a
 * constraint the API accepts is one every placer understands.
 *
 * Docker's syntax: `<key> == <value>` or `<key> != <value>`, whitespace
 * around the operator allowed, the value optionally quoted. Keys:
 * node.id, node.hostname, node.ip, node.role, node.platform.os,
 * node.platform.arch, node.labels.<name>, engine.labels.<name>. Fixed keys
 * are case-insensitive; label names keep their case. Values compare
 * case-insensitively (as in SwarmKit); os and arch through the platform
 * aliases (x86_64 = amd64); node.ip takes an address or a CIDR block. A
 * node without the label has no value: `==` fails, `!=` holds.
 *
 * Unlike SwarmKit, which parses any key and then never matches an unknown
 * one, an unknown key is an error: "constraint not met on 10 nodes" would
 * hide a typo behind a capacity-looking message.
 */
import { BlockList, isIP } from 'node:net';
import { ShoalError } from '../util/errors.js';
import type { Node } from './objects.js';
import { normalizeArch, normalizeOs } from './platform.js';

/** A property of a node that constraints and spread descriptors read. */
export type NodeAttr = { kind: 'id' | 'hostname' | 'ip' | 'role' | 'os' | 'arch' } | { kind: 'label' | 'engineLabel'; name: string };

export interface Constraint {
  /** As the user meant it, normalised to `key==value` (used in reasons). */
  text: string;
  /** The key, fixed keys lower-cased, label names as written. */
  key: string;
  attr: NodeAttr;
  op: '==' | '!=';
  /** The value as written (unquoted, trimmed). */
  value: string;
  /** What node values are compared with: lower-cased, platform-normalised for os/arch. */
  match: string;
  /** node.ip only: the address or block the value names. */
  block?: BlockList;
}

export type ConstraintErrorCode = 'INVALID_CONSTRAINT' | 'INVALID_PREFERENCE';

export class ConstraintError extends ShoalError<ConstraintErrorCode> {
  override readonly name = 'ConstraintError';
  readonly ns = 'model';
  constructor(code: ConstraintErrorCode, message: string) {
    super(code, message, { status: 400 });
  }
}

const FIXED: Record<string, NodeAttr> = {
  'node.id': { kind: 'id' },
  'node.hostname': { kind: 'hostname' },
  'node.ip': { kind: 'ip' },
  'node.role': { kind: 'role' },
  'node.platform.os': { kind: 'os' },
  'node.platform.arch': { kind: 'arch' },
};
const LABEL_PREFIXES = [
  ['node.labels.', 'label'],
  ['engine.labels.', 'engineLabel'],
] as const;

export const CONSTRAINT_KEYS_HELP = `${Object.keys(FIXED).join(', ')}, node.labels.<name> or engine.labels.<name>`;

// SwarmKit's patterns: a key is letters, digits and - _ . ; a value must not
// contain characters that are (or may become) operators, like < > ~ = !.
const KEY_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const VALUE_RE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;

/** Reads a constraint or descriptor key; undefined if it names nothing we know. */
export function parseAttr(key: string): NodeAttr | undefined {
  const k = key.toLowerCase();
  const fixed = FIXED[k];
  if (fixed) return fixed;
  for (const [prefix, kind] of LABEL_PREFIXES) {
    if (k.startsWith(prefix) && key.length > prefix.length) return { kind, name: key.slice(prefix.length) };
  }
  return undefined;
}

function keyOf(attr: NodeAttr, key: string): string {
  if (attr.kind === 'label') return `node.labels.${attr.name}`;
  if (attr.kind === 'engineLabel') return `engine.labels.${attr.name}`;
  return key.toLowerCase();
}

function invalid(expr: string, why: string): ConstraintError {
  return new ConstraintError('INVALID_CONSTRAINT', `invalid constraint ${JSON.stringify(expr)}: ${why}`);
}

function unquote(v: string): string {
  if (v.length >= 2) {
    const q = v[0];
    if ((q === '"' || q === "'") && v[v.length - 1] === q) return v.slice(1, -1).trim();
  }
  return v;
}

/** An address or a CIDR block, as a BlockList; null when it is neither. */
function ipBlock(v: string): BlockList | null {
  const [addr, bits, extra] = v.split('/');
  const family = isIP(addr ?? '');
  if (family === 0 || extra !== undefined) return null;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return null;
  const b = new BlockList();
  b.addSubnet(addr!, prefix, type);
  return b;
}

/** Parses one constraint; throws ConstraintError INVALID_CONSTRAINT with a message fit for a user. */
export function parseConstraint(expr: string): Constraint {
  if (typeof expr !== 'string') throw invalid(String(expr), 'not a string');
  const e = expr.trim();
  if (e === '') throw invalid(expr, 'empty (expected <key>==<value> or <key>!=<value>)');
  const eq = e.indexOf('==');
  const ne = e.indexOf('!=');
  const at = eq < 0 ? ne : ne < 0 ? eq : Math.min(eq, ne);
  if (at < 0) throw invalid(expr, 'expected <key>==<value> or <key>!=<value>');
  const op = e.slice(at, at + 2) as '==' | '!=';
  const key = e.slice(0, at).trim();
  const rest = e.slice(at + 2);
  if (rest.includes('==') || rest.includes('!=')) throw invalid(expr, 'more than one operator');
  const value = unquote(rest.trim());
  if (!KEY_RE.test(key)) throw invalid(expr, `key ${JSON.stringify(key)} is not valid`);
  const lower = key.toLowerCase();
  for (const [prefix] of LABEL_PREFIXES) if (lower === prefix) throw invalid(expr, `${prefix}<name> needs a label name`);
  const attr = parseAttr(key);
  if (!attr) throw invalid(expr, `unknown key ${JSON.stringify(key)} (one of ${CONSTRAINT_KEYS_HELP})`);
  if (value === '') throw invalid(expr, 'empty value');
  if (!VALUE_RE.test(value)) throw invalid(expr, `value ${JSON.stringify(value)} contains characters that are not allowed`);
  let match = value.toLowerCase();
  let block: BlockList | undefined;
  if (attr.kind === 'role' && match !== 'manager' && match !== 'worker') throw invalid(expr, 'node.role is manager or worker');
  if (attr.kind === 'arch') match = normalizeArch(value);
  else if (attr.kind === 'os') match = normalizeOs(value);
  else if (attr.kind === 'ip') {
    const b = ipBlock(value);
    if (!b) throw invalid(expr, `node.ip takes an IP address or a CIDR block, e.g. 10.0.0.0/24, got ${JSON.stringify(value)}`);
    block = b;
  }
  const k = keyOf(attr, key);
  return { text: `${k}${op}${value}`, key: k, attr, op, value, match, ...(block ? { block } : {}) };
}

export function parseConstraints(list: readonly string[] | undefined): Constraint[] {
  return (list ?? []).map(parseConstraint);
}

/** Parses a spread descriptor (`node.labels.zone`); throws ConstraintError INVALID_PREFERENCE. */
export function parseSpreadDescriptor(d: string): NodeAttr {
  const key = typeof d === 'string' ? d.trim() : '';
  const attr = KEY_RE.test(key) ? parseAttr(key) : undefined;
  if (!attr) throw new ConstraintError('INVALID_PREFERENCE', `invalid spread descriptor ${JSON.stringify(d)} (one of ${CONSTRAINT_KEYS_HELP})`);
  return attr;
}

/**
 * Whether a node whose value for the constraint's key is `nodeValue`
 * (undefined or '' when it has none) satisfies it. `nodeValue` may be in
 * any case; os and arch are compared through the platform aliases.
 */
export function constraintHolds(c: Constraint, nodeValue: string | undefined): boolean {
  let eq: boolean;
  if (!nodeValue) eq = false;
  else if (c.block) {
    const family = isIP(nodeValue);
    eq = family !== 0 && c.block.check(nodeValue, family === 4 ? 'ipv4' : 'ipv6');
  } else if (c.attr.kind === 'arch') eq = normalizeArch(nodeValue) === c.match;
  else if (c.attr.kind === 'os') eq = normalizeOs(nodeValue) === c.match;
  else eq = nodeValue.toLowerCase() === c.match;
  return eq === (c.op === '==');
}

/** The node's address without its port (Status.Addr is an address; a host:port is cut). */
export function nodeIp(n: Pick<Node, 'Status'>): string | undefined {
  const a = n.Status?.Addr;
  if (!a) return undefined;
  if (isIP(a)) return a;
  const i = a.lastIndexOf(':');
  const host = i > 0 ? a.slice(0, i).replace(/^\[|\]$/g, '') : a;
  return isIP(host) ? host : undefined;
}

/** A node object's value for attr, as stored (undefined when it has none). */
export function nodeAttrValue(n: Node, attr: NodeAttr): string | undefined {
  switch (attr.kind) {
    case 'id':
      return n.ID;
    case 'hostname':
      return n.Description?.Hostname;
    case 'ip':
      return nodeIp(n);
    case 'role':
      return n.Spec?.Role;
    case 'os':
      return n.Description?.Platform?.OS;
    case 'arch':
      return n.Description?.Platform?.Architecture;
    case 'label':
      return n.Spec?.Labels?.[attr.name];
    case 'engineLabel':
      return n.Description?.Engine?.Labels?.[attr.name];
  }
}

/** All constraints hold on the node. */
export function nodeMatches(constraints: readonly Constraint[], n: Node): boolean {
  for (const c of constraints) if (!constraintHolds(c, nodeAttrValue(n, c.attr))) return false;
  return true;
}
