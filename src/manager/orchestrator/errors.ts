/**
 * Typed errors the orchestrator throws to its caller. Only caller bugs throw
 * (bad options, a clock that is not a number, an id generator that repeats):
 * anything odd in the store (an unparsable constraint, a negative replica
 * count) is handled and counted in DecisionStats.problems, never thrown, so
 * one bad service cannot stop the orchestration of every other.
 */
import { policy, ShoalError } from '../../util/errors.js';

export const OrchestratorErrorCode = {
  /** An option is out of range. */
  INVALID_OPTIONS: 'INVALID_OPTIONS',
  /** A caller bug: `now` not finite, an id generator returning '' or a duplicate id. */
  BAD_REQUEST: 'BAD_REQUEST',
} as const;

export type OrchestratorErrorCode = (typeof OrchestratorErrorCode)[keyof typeof OrchestratorErrorCode];

const orchestratorPolicy = policy<OrchestratorErrorCode>([], {});

export class OrchestratorError extends ShoalError<OrchestratorErrorCode> {
  override readonly name = 'OrchestratorError';
  readonly ns = 'orchestrator';
  constructor(
    code: OrchestratorErrorCode,
    message: string,
  ) {
    super(code, `${code}: ${message}`, orchestratorPolicy(code));
  }
}

export function isOrchestratorError(e: unknown, code?: OrchestratorErrorCode): e is OrchestratorError {
  return e instanceof OrchestratorError && (code === undefined || e.code === code);
}
