/**
 * Placement constraint syntax, checked at the API so a typo is a 400 at
 * `service create` rather than tasks pending forever. Same grammar as
 * SwarmKit: `key (==|!=) value`, keys case-insensitive.
 *
 * This is deliberately a small parser of its own: src/scheduler has its own
 * (the one that evaluates constraints), written concurrently; once it is
 * settled the two should share one grammar module.
 */

export interface Constraint {
  key: string;
  op: '==' | '!=';
  value: string;
}

/** Keys that name a fixed node attribute. */
const FIXED_KEYS = ['node.id', 'node.hostname', 'node.ip', 'node.role', 'node.platform.os', 'node.platform.arch'];
/** Keys followed by a label name. */
const LABEL_PREFIXES = ['node.labels.', 'engine.labels.'];

export const CONSTRAINT_KEYS_HELP = `${FIXED_KEYS.join(', ')}, node.labels.<label>, engine.labels.<label>`;

// SwarmKit's patterns: a key is letters, digits and - _ . ; a value must not
// contain characters that are (or may become) operators, like < > ~ = !.
const KEY_RE = /^[a-z_][a-z0-9\-_.]+$/i;
const VALUE_RE = /^[a-z0-9:\-_\s.*()?+[\]\\^$|/]+$/i;

/** Parses one constraint; throws Error with a message saying what is wrong. */
export function parseConstraint(expr: string): Constraint {
  const m = /^(.*?)(==|!=)(.*)$/s.exec(expr);
  if (!m) throw new Error(`invalid constraint ${JSON.stringify(expr)}: expected <key>==<value> or <key>!=<value>`);
  const key = m[1]!.trim();
  const op = m[2] as '==' | '!=';
  const value = m[3]!.trim();
  if (!KEY_RE.test(key)) throw new Error(`invalid constraint ${JSON.stringify(expr)}: key ${JSON.stringify(key)} is not valid`);
  const lower = key.toLowerCase();
  const prefix = LABEL_PREFIXES.find((p) => lower.startsWith(p));
  if (prefix) {
    if (lower.length === prefix.length) throw new Error(`invalid constraint ${JSON.stringify(expr)}: ${prefix}<label> needs a label name`);
  } else if (!FIXED_KEYS.includes(lower)) {
    throw new Error(`invalid constraint ${JSON.stringify(expr)}: unknown key ${JSON.stringify(key)} (one of ${CONSTRAINT_KEYS_HELP})`);
  }
  if (value === '') throw new Error(`invalid constraint ${JSON.stringify(expr)}: empty value`);
  if (!VALUE_RE.test(value)) throw new Error(`invalid constraint ${JSON.stringify(expr)}: value ${JSON.stringify(value)} contains characters that are not allowed`);
  if (lower === 'node.role' && !['manager', 'worker'].includes(value.toLowerCase())) {
    throw new Error(`invalid constraint ${JSON.stringify(expr)}: node.role is manager or worker`);
  }
  // Label names keep their case (labels are case-sensitive); fixed keys do not.
  return { key: prefix ? prefix + key.slice(prefix.length) : lower, op, value };
}
