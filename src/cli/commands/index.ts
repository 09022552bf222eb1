import type { Command } from 'commander';

/** Every top-level command registers itself from its own module. */
export type RegisterCommand = (program: Command) => void;

type Loader = () => Promise<RegisterCommand>;

/** A module of top-level commands: the names it registers and how to load it. */
export interface CommandModule {
  names: string[];
  load: Loader;
}

/**
 * The command modules, in help order, each loaded only when needed: a
 * command pulls in only its own module (`shoal node ls` never loads the
 * node daemon, sqlite3, Raft or the chaos harness), which is what keeps
 * `shoal --version` and `shoal service ls` near a bare Node's start-up.
 * `names` are the top-level commands a module registers.
 */
export const COMMAND_MODULES: CommandModule[] = [
  { names: ['up'], load: async () => (await import('./up.js')).registerUp },
  { names: ['down'], load: async () => (await import('./down.js')).registerDown },
  { names: ['env'], load: async () => (await import('./env.js')).registerEnv },
  { names: ['node'], load: async () => (await import('./node.js')).registerNode },
  { names: ['service'], load: async () => (await import('./service.js')).registerService },
  { names: ['secret', 'config'], load: async () => (await import('./secret.js')).registerSecret },
  { names: ['network'], load: async () => (await import('./network.js')).registerNetwork },
  { names: ['image'], load: async () => (await import('./image.js')).registerImage },
  { names: ['join-token'], load: async () => (await import('./join-token.js')).registerJoinToken },
  { names: ['swarm'], load: async () => (await import('./swarm.js')).registerSwarm },
  { names: ['init', 'join', 'run'], load: async () => (await import('./node-process.js')).registerNodeProcess },
  { names: ['stack'], load: async () => (await import('./stack.js')).registerStack },
  { names: ['dashboard'], load: async () => (await import('./dashboard.js')).registerDashboard },
  { names: ['events'], load: async () => (await import('./events.js')).registerEvents },
  { names: ['leave'], load: async () => (await import('./leave.js')).registerLeave },
];

/** Global options that take a value (their value is not the command name). */
const GLOBAL_WITH_VALUE = new Set(['-H', '--host']);

/** The top-level command argv names, or null when it names none (top-level help, --version, a typo). */
export function commandName(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') return argv[i + 1] ?? null;
    if (GLOBAL_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return a;
  }
  return null;
}

/**
 * The register functions argv needs: its command's module alone, or every
 * module when it names none we know (top-level help and commander's
 * "did you mean" need them all; `--version` needs none).
 */
export async function commandsFor(argv: readonly string[], modules: readonly CommandModule[] = COMMAND_MODULES): Promise<RegisterCommand[]> {
  const name = commandName(argv);
  const own = name === null ? undefined : modules.find((m) => m.names.includes(name));
  if (own) return [await own.load()];
  if (name === null && argv.some((a) => a === '-v' || a === '--version') && !argv.some((a) => a === '-h' || a === '--help')) return [];
  return Promise.all(modules.map((m) => m.load()));
}
