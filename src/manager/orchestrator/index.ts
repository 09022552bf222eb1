/** The orchestrator's decision core: what tasks should exist. See interface.ts and README.md. */
export { reconcile, serviceMode } from './reconcile.js';
export type { Action, ActionType, Decision, OrchestratorView, ReconcileFn } from './interface.js';
export { DEFAULT_OPTIONS, resolveOptions } from './options.js';
export type { OrchestratorOptions } from './options.js';
export { OrchestratorError, OrchestratorErrorCode, isOrchestratorError } from './errors.js';
export { OrchestratorMetrics, emptyStats } from './metrics.js';
export type { DecisionStats } from './metrics.js';
export { applyActions } from './apply.js';
export { nodeMatches, parseConstraints } from './constraints.js';
