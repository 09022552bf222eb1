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

/**
 * `init`, `join` and `run` with the harness's fault hooks in the node
 * (chaos-tests/node/hooks.ts): the harness starts its clusters through these.
 */
export const HARNESS_NODE_COMMANDS: CommandModule = {
  names: ['init', 'join', 'run'],
  load: async () => {
    const [{ registerNodeProcess }, { chaosHooks }] = await Promise.all([import('../../src/cli/commands/node-process.js'), import('../node/hooks.js')]);
    return (program) => registerNodeProcess(program, chaosHooks());
  },
};
