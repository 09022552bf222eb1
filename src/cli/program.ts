import { Command, CommanderError } from 'commander';
import { CliError } from './errors.js';
import { packageVersion } from '../util/version.js';
import { COMMAND_MODULES, commandsFor, type CommandModule, type RegisterCommand } from './commands/index.js';

/** Builds the `shoal` command tree. Each command lives in commands/<name>.ts. */
export function buildProgram(commands: RegisterCommand[]): Command {
  const program = new Command('shoal')
    .description('Shoal: a cluster orchestrator in the mould of Docker Swarm')
    .version(packageVersion(), '-v, --version', 'print the Shoal version')
    // Global, as docker's -H: any command that talks to a manager reads it (see host.ts).
    .option('-H, --host <addr>', 'manager API to talk to: unix:///path or tcp://host:port (TLS with the admin bundle in $SHOAL_CERT_PATH) (default: $SHOAL_HOST, else the cluster of `shoal up` in ./.shoal, else unix://<default data dir>/api.sock)')
    .showSuggestionAfterError()
    .configureOutput({
      // commander's own usage errors: one line, worded as ours ("shoal: …").
      outputError: (str, write) => write(str.split('\n').filter(Boolean)[0]!.replace(/^error: /, 'shoal: ') + '\n'),
    });
  program.exitOverride();
  for (const register of commands) register(program);
  return program;
}

let pipeHandled = false;

/** `shoal node ls | head -1`: a reader that stops reading is not an error (exit quietly, as docker does). */
function quietOnClosedPipe(): void {
  if (pipeHandled) return;
  pipeHandled = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

/**
 * Runs the CLI; resolves to the process exit code. Never throws (so an entry
 * point only sets `process.exitCode = await main(...)`). `extra`:
 * command modules that are not part of the product (the chaos harness's
 * own CLI adds `chaos` and `check`, and its own node
 * commands with fault hooks); a module of `extra` replaces the product's
 * module for the same commands.
 */
export async function main(argv: string[], extra: readonly CommandModule[] = []): Promise<number> {
  quietOnClosedPipe();
  try {
    const replaced = new Set(extra.flatMap((m) => m.names));
    const modules = [...COMMAND_MODULES.filter((m) => !m.names.some((n) => replaced.has(n))), ...extra];
    const program = buildProgram(await commandsFor(argv, modules));
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version exit through here with code 0.
      return err.exitCode === 0 ? 0 : 1;
    }
    if (err instanceof CliError) {
      if (err.message) process.stderr.write(`shoal: ${err.message}\n`);
      return err.exitCode;
    }
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(`shoal: ${e?.message ?? String(err)}\n`);
    return 1;
  }
}
