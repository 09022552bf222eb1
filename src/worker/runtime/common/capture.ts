import { spawn, type SpawnOptions } from 'node:child_process';
import { exitCodeForSignal } from './signals.js';

/**
 * Spawning blocks the event loop until the child has exec'd (~5–10 ms here:
 * a fork of a big process). A node creating hundreds of containers at once
 * would otherwise stall for seconds and miss its heartbeats, so helper
 * spawns take turns: up to ~5 ms of them per event-loop turn.
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
export function capture(
  argv: string[],
  opts: SpawnOptions & { timeoutMs?: number; maxBytes?: number } = {},
): Promise<{ exitCode: number; output: string; timedOut: boolean; error?: string }> {
  return new Promise((resolve) => paced(() => run(argv, opts, resolve)));
}

function run(
  argv: string[],
  opts: SpawnOptions & { timeoutMs?: number; maxBytes?: number },
  resolve: (r: { exitCode: number; output: string; timedOut: boolean; error?: string }) => void,
): void {
  const { timeoutMs, maxBytes = 1024 * 1024, ...spawnOpts } = opts;
  {
    const child = spawn(argv[0]!, argv.slice(1), { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const chunks: Buffer[] = [];
    let size = 0;
    const take = (c: Buffer) => {
      if (size >= maxBytes) return;
      chunks.push(c.subarray(0, maxBytes - size));
      size += c.length;
    };
    child.stdout!.on('data', take);
    child.stderr!.on('data', take);
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
      const exitCode = code ?? exitCodeForSignal(signal ?? 'SIGKILL');
      resolve({ exitCode, output: Buffer.concat(chunks).toString('utf8'), timedOut });
    });
  }
}
