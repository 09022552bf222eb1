/**
 * Placement constraints at the API: the model's grammar
 * (src/model/constraints.ts), so a typo is a 400 at `service create` — and
 * anything the API accepts, the orchestrator and the scheduler understand.
 */
import { parseConstraint as parse } from '../../../model/constraints.js';

export { CONSTRAINT_KEYS_HELP } from '../../../model/constraints.js';

export interface Constraint {
  key: string;
  op: '==' | '!=';
  value: string;
}

/** Parses one constraint; throws ConstraintError (status 400) saying what is wrong. */
export function parseConstraint(expr: string): Constraint {
  const c = parse(expr);
  return { key: c.key, op: c.op, value: c.value };
}
