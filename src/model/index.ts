/**
 * The domain model every role shares — manager, worker, scheduler and CLI
 * import it from here and never from each other: Docker's swarm objects
 * (objects.ts), the task state machine (task-state.ts) and the runtime names.
 */
export * from './objects.js';
export * from './task-state.js';
export * from './runtime-names.js';
export * from './constraints.js';
export * from './platform.js';
export * from './runtime-support.js';
export * from './jobs.js';
export * from './heartbeat.js';
export * from './image-ref.js';
