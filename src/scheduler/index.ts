/** The scheduler's public surface: what the manager and the API layer import. */
export { Scheduler } from './scheduler.js';
export type * from './interface.js';
export { DEFAULT_OPTIONS, resolveOptions, type SchedulerOptions } from './options.js';
export { SchedulerError, SchedulerErrorCode, isSchedulerError } from './errors.js';
export { SchedulerMetrics } from './metrics.js';
export { hostPortsOf } from './host-ports.js';
export { parseConstraint, parseConstraints, parseSpreadDescriptor, type Constraint } from './constraint.js';
export { binpackScore } from './score-binpack.js';
export { validatePlacement } from './group.js';
