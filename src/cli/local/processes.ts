/**
 * The background node processes of a local cluster: starting one detached
 * (its output to a log file, surviving the CLI's exit), telling whether a
 * recorded pid is still that node (not a recycled pid), and stopping one
 * (SIGTERM, then SIGKILL after a grace).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../util/version.js';
import { CliError } from '../errors.js';
import { nodeDataDir, type LocalNode } from './cluster-file.js';

/**
 * The CLI program, dist/bin/shoal.js, found from the package root: this
 * module runs inside that very bundle, or compiled under .build/ for
 * in-process tests, and node processes run the product's program either way.
 */
export function shoalBin(): string {
  return path.join(packageRoot(), 'dist', 'bin', 'shoal.js');
}

/**
 * Starts `shoal <args>` in the background, stdout and stderr appended to
 * `logFile`; returns its pid. `wrap` (e.g. nsenter --net=… --) runs it
 * through a command that execs it, so the pid is still the node's.
 */
export function spawnDetached(args: string[], logFile: string, wrap: string[] = []): number {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const [cmd, ...argv] = [...wrap, process.execPath, shoalBin(), ...args];
    const child = spawn(cmd!, argv, {
      detached: true,
      stdio: ['ignore', fd, fd],
      // A NODE_OPTIONS meant for the CLI (a test loader, an inspector) must not reach long-lived nodes.
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    child.on('error', () => {}); // a failed spawn: pid is undefined, said below
    child.unref();
    if (child.pid === undefined) throw new CliError(`could not start ${cmd}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * True when `pid` runs and is a shoal node process for `dataDir`: the
 * command line is checked so a pid reused by another program after a
 * reboot is never signalled.
 */
export function isNodeProcess(pid: number | null, dataDir: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    // ESRCH: gone; EPERM: someone else's process, so not ours either.
    return false;
  }
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    if (argv.length === 0 || argv[0] === '') return false; // a zombie: exited, not yet reaped
    const i = argv.indexOf('--data-dir');
    return isNodeArgv(argv) && i >= 0 && path.resolve(argv[i + 1] ?? '') === path.resolve(dataDir);
  } catch {
    // No /proc (not Linux): trust the pid.
    return process.platform !== 'linux';
  }
}

/** The process exists and is not a zombie (whatever it runs). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EPERM' || (code === 'ENOENT' && process.platform !== 'linux');
  }
}

/**
 * Live processes whose command line names a path inside `dir` (a node's task
 * supervisor runs as `node …/supervisor/main.js <data-dir>/supervisor`), not
 * this process. Empty where there is no /proc. `shoalOnly`: only Shoal's own
 * node and supervisor processes, not, say, someone's `tail -f` of a node log.
 */
export function processesUnder(dir: string, opts: { shoalOnly?: boolean } = {}): number[] {
  const prefix = path.resolve(dir) + path.sep;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv.some((a) => a.startsWith(prefix))) continue;
      if (opts.shoalOnly && !isShoalDaemon(argv)) continue;
      if (processAlive(pid)) out.push(pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** A node's command line, `… shoal.js init|join|run …`: not another shoal command naming its data dir (`shoal image import --data-dir …`). */
function isNodeArgv(argv: string[]): boolean {
  return argv.some((a, i) => a.endsWith('shoal.js') && ['init', 'join', 'run'].includes(argv[i + 1] ?? ''));
}

/** A node or its task supervisor (`node …/worker/supervisor/main.js <dir>`). */
function isShoalDaemon(argv: string[]): boolean {
  return isNodeArgv(argv) || argv.some((a) => a.endsWith('/worker/supervisor/main.js'));
}

/** The first of `nodes` (of the cluster in `dir`) whose process runs; else the first recorded, whose error its caller meets on use. */
export function firstRunning<N extends Pick<LocalNode, 'name' | 'pid'>>(dir: string, nodes: N[]): N | undefined {
  return nodes.find((n) => isNodeProcess(n.pid, nodeDataDir(dir, n))) ?? nodes[0];
}

export type StopResult = 'stopped' | 'killed';

/** SIGTERM, wait up to `graceMs` for the process to exit, then SIGKILL. */
export async function stopProcess(pid: number, graceMs: number): Promise<StopResult> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'stopped';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return 'stopped';
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'stopped';
  }
  const hard = Date.now() + 5_000;
  while (processAlive(pid) && Date.now() < hard) await new Promise((r) => setTimeout(r, 20));
  return 'killed';
}
