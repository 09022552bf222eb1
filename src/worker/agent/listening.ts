/**
 * Which TCP ports a process's network namespace listens on: the LISTEN
 * sockets of /proc/PID/net/tcp and tcp6, which show the sockets of the
 * namespace PID lives in (a task's own, for oci and docker tasks).
 *
 * The agent uses it to report a task that publishes ports `running` only
 * once it listens on them (task-controller.ts): a task is a load-balancer
 * backend from `running` on, and one added before its server has bound its
 * port refuses connections (measured: 1–2 refused requests in ~2,500 during a
 * start-first rolling update, 50–70 ms after the replacement started).
 */
import { readFileSync } from 'node:fs';
import type { Timers } from '../../util/timers.js';

const LISTEN = '0A';

/** The ports PID's namespace listens on (empty when the process is gone). */
export function listeningPorts(pid: number): Set<number> {
  const ports = new Set<number>();
  for (const file of ['tcp', 'tcp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    } catch {
      continue; // gone, or no IPv6
    }
    // "  sl  local_address rem_address   st ..." then rows like "   0: 00000000:0050 00000000:0000 0A ..."
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== LISTEN) continue;
      const port = Number.parseInt(f[1]!.slice(f[1]!.lastIndexOf(':') + 1), 16);
      if (Number.isInteger(port)) ports.add(port);
    }
  }
  return ports;
}

/**
 * Resolves true once PID's namespace listens on every one of `ports`, false
 * after `waitMs` or as soon as `cancelled()` (the task ended or is being
 * stopped). Looks every 20 ms: a task start is short, and this runs only
 * while one is in progress.
 */
export function awaitListening(pid: number, ports: readonly number[], timers: Timers, waitMs: number, cancelled: () => boolean): Promise<boolean> {
  const deadline = timers.now() + waitMs;
  return new Promise((resolve) => {
    const look = () => {
      if (cancelled()) return resolve(false);
      const open = listeningPorts(pid);
      if (ports.every((p) => open.has(p))) return resolve(true);
      if (timers.now() >= deadline) return resolve(false);
      timers.setTimeout(look, 20);
    };
    look();
  });
}
