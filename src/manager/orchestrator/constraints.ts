/**
 * Placement constraints for global services: the model's grammar and
 * matcher (src/model/constraints.ts), the same the API validates with and
 * the scheduler places by. A spec that fails to parse (only a spec written
 * before a grammar change could) is reported, not acted on.
 */
import { ConstraintError, parseConstraints as parseAll, type Constraint } from '../../model/constraints.js';

export { nodeMatches, type Constraint } from '../../model/constraints.js';

export type ParsedConstraints = { ok: true; constraints: Constraint[] } | { ok: false; error: string };

export function parseConstraints(exprs: readonly string[] | undefined): ParsedConstraints {
  try {
    return { ok: true, constraints: parseAll(exprs) };
  } catch (err) {
    if (err instanceof ConstraintError) return { ok: false, error: err.message };
    throw err;
  }
}
