import type { CommandModule } from '../../src/cli/commands/index.js';

/**
 * The harness's commands — `chaos` (break a real cluster on purpose)
 * and `check` (is a history linearizable) — for chaos-tests/cli/main.ts to add to
 * the CLI. Test machinery, not product: nothing in src/ imports them, and
 * each loads only when its command runs.
 */
export const HARNESS_COMMANDS: CommandModule[] = [
  { names: ['check'], load: async () => (await import('./check.js')).registerCheck },
  { names: ['chaos'], load: async () => (await import('./chaos.js')).registerChaos },
];
