import { spawn, type SpawnOptions } from 'node:child_process';
import { TaskForker, type ForkerBinary } from '../../supervisor/forker.js';
import { Turns } from '../../../util/turns.js';
import { exitCodeForSignal } from './signals.js';

/**
 * The forker that starts helper commands instead of Node's spawn, once the
 * node daemon has named one. A spawn from the daemon forks a process of
 * 85–210 MB (RSS measured idle and at 300 tasks): ~20 ms of a blocked event loop each here, which made the
 * `mount` of each oci task's rootfs the node's largest cost when it starts
 * hundreds (6.4 s of 14 s of daemon CPU for 300). The forker (C or
 * Perl, supervisor/forker.ts) is small, so its fork is cheap, and asking it
 * is one line on a pipe. Its helpers die with it, and it with this process.
 */
let helperForker: TaskForker | null = null;

/**
 * Routes this process's helper commands through a forker of `bin`; null
 * goes back to Node's spawn. Idempotent: several daemons in one process
 * (tests) share the first one, whose in-flight helpers must not be cut off.
 */
export function useHelperForker(bin: ForkerBinary | null, diag: (msg: string) => void = () => {}): void {
  if (bin && helperForker) return;
  helperForker?.close();
  helperForker = bin ? new TaskForker(bin, diag, { unref: true }) : null;
}

/**
 * Without a helper forker, Node's spawn blocks the event loop until the
 * child has exec'd (a fork of a big process). A node creating hundreds of
 * containers at once would otherwise stall for seconds and miss its
 * heartbeats, so such spawns take turns: up to ~5 ms of them per event-loop turn.
 */
const queue: (() => void)[] = [];
let pumping = false;

function paced(start: () => void): void {
  queue.push(start);
  if (pumping) return;
  pumping = true;
  const turn = () => {
    const until = performance.now() + 5;
    while (queue.length > 0 && performance.now() < until) queue.shift()!();
    if (queue.length > 0) setImmediate(turn);
    else pumping = false;
  };
  setImmediate(turn);
}

/**
 * Runs a helper command to completion with a deadline, output captured
 * (stdout and stderr interleaved, capped), for exec() and runc/crun calls.
 * On timeout the process group is SIGKILLed and the exit code is 137.
 */
export function capture(argv: string[], opts: CaptureOptions = {}): Promise<CaptureResult> {
  const start = (resolve: (r: CaptureResult) => void) => {
    const forker = helperForker;
    if (forker) runForked(forker, argv, opts, resolve);
    else paced(() => run(argv, opts, resolve));
  };
  if (!opts.lane) return new Promise(start);
  const turns = lanes.get(opts.lane) ?? lanes.set(opts.lane, new Turns(LANE_AT_ONCE)).get(opts.lane)!;
  return new Promise((resolve) =>
    turns.take(() =>
      start((r) => {
        turns.give();
        resolve(r);
      }),
    ),
  );
}

/**
 * How many of the node's own helper commands of one lane run at once; the
 * rest wait their turn. 300 tasks starting at once asked for 300 mounts: 300
 * runnable processes at the daemon's own priority, among which it got a
 * sliver of a core and stalled for most of the fence period. Lanes keep
 * kinds apart: the quick calls of every start and removal (`mounts`: mount,
 * umount, runc/crun state calls) do not wait behind slow rootfs copies
 * (`copies`). A user's command (exec, a health check) has no lane: it may run
 * long, and must not hold up a start.
 */
const LANE_AT_ONCE = 4;
const lanes = new Map<Lane, Turns>();
export type Lane = 'mounts' | 'copies';

/** What both ways of starting a helper honour (nothing else is accepted). */
type CaptureOptions = Pick<SpawnOptions, 'env' | 'uid' | 'gid'> & {
  cwd?: string;
  timeoutMs?: number;
  maxBytes?: number;
  /** One of the node's own helper commands, which take turns in its lane (LANE_AT_ONCE). */
  lane?: Lane;
};
type CaptureResult = { exitCode: number; output: string; timedOut: boolean; error?: string };

/** Collects up to maxBytes of a helper's stdout and stderr, interleaved as they come. */
function collector(maxBytes: number): { take: (c: Buffer) => void; text: () => string } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    take: (c) => {
      if (size >= maxBytes) return;
      chunks.push(c.subarray(0, maxBytes - size));
      size += c.length;
    },
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

function runForked(forker: TaskForker, argv: string[], opts: CaptureOptions, resolve: (r: CaptureResult) => void): void {
  const { timeoutMs, maxBytes = 1024 * 1024 } = opts;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env ?? process.env)) if (v !== undefined) env[k] = v;
  const cwd = opts.cwd;
  // Every option a Node spawn would honour is honoured here too: an exec as the task's user must not run as root.
  const child = forker.spawn({
    argv,
    env,
    ...(cwd ? { cwd } : {}),
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    killGroupOnExit: false,
  });
  const out = collector(maxBytes);
  let timedOut = false;
  // The child leads its own process group (the forker's setsid), which outlives it while a background
  // process it started holds our pipes: the group is signalled directly, as the Node path does, because
  // the forker signals only a child it has not reaped. Before the forker has told the PID, on 'spawn'.
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* the group is gone */
    }
  };
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          if (child.pid !== undefined) killGroup();
        }, timeoutMs);
  child.once('spawn', () => {
    child.stdout!.on('data', out.take);
    child.stderr!.on('data', out.take);
    if (timedOut) killGroup();
  });
  child.once('error', (err) => {
    if (timer) clearTimeout(timer);
    resolve({ exitCode: 127, output: '', timedOut: false, error: err.message });
  });
  child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
    if (timer) clearTimeout(timer);
    // It never became the command (not found, a bad cwd): as Node's spawn reports it.
    if (child.execError) return resolve({ exitCode: code ?? 127, output: out.text(), timedOut, error: child.execError.message });
    resolve({ exitCode: code ?? exitCodeForSignal(signal ?? 'SIGKILL'), output: out.text(), timedOut });
  });
}

function run(argv: string[], opts: CaptureOptions, resolve: (r: CaptureResult) => void): void {
  const { timeoutMs, maxBytes = 1024 * 1024, lane: _, ...spawnOpts } = opts;
  const child = spawn(argv[0]!, argv.slice(1), { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const out = collector(maxBytes);
  child.stdout!.on('data', out.take);
  child.stderr!.on('data', out.take);
  let timedOut = false;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, timeoutMs);
  child.once('error', (err) => {
    if (timer) clearTimeout(timer);
    resolve({ exitCode: 127, output: '', timedOut: false, error: err.message });
  });
  child.once('close', (code, signal) => {
    if (timer) clearTimeout(timer);
    resolve({ exitCode: code ?? exitCodeForSignal(signal ?? 'SIGKILL'), output: out.text(), timedOut });
  });
}
