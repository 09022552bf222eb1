import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Where a node's task supervisor keeps its files: one directory per node
 * (<dataDir>/supervisor), shared by the supervisor and the agents that talk
 * to it.
 *
 *   supervisor.json   how to run: the task roots it may start tasks from (agent, before spawning it)
 *   supervisor.pid    "<pid> <start time>" of the live supervisor (supervisor; its lock)
 *   supervisor.log    its own diagnostics
 *   fenced            why and when it ended itself, its lease run out (supervisor, just before; .prev once a new one starts)
 *   sock              the unix socket (or a hashed name under the temp dir, see socketPath)
 */
/**
 * The agent–supervisor socket is local: a dead process closes it at once
 * (EOF), so idle detection only needs to catch a hung one, and must not cut
 * the link because either side's event loop was busy for a second or two
 * (hundreds of spawns, a burst of assignments).
 */
export const LOCAL_CONNECTION = { keepaliveIntervalMs: 2_000, idleTimeoutMs: 30_000 };

/** The node ID the supervisor's transport declares on its socket. */
export const SUPERVISOR_PEER_ID = 'supervisor';

export const SUPERVISOR_FILES = {
  config: 'supervisor.json',
  pid: 'supervisor.pid',
  log: 'supervisor.log',
  fenced: 'fenced',
} as const;

export function supervisorFile(dir: string, f: keyof typeof SUPERVISOR_FILES): string {
  return path.join(dir, SUPERVISOR_FILES[f]);
}

/**
 * A unix socket path must fit sun_path (108 bytes on Linux). Deep data dirs
 * (tests under long temp paths) get a name under the temp dir derived from
 * the directory, so every agent of that node finds the same one.
 */
export function socketPath(dir: string): string {
  const p = path.join(path.resolve(dir), 'sock');
  if (Buffer.byteLength(p) <= 100) return p;
  const h = createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 20);
  return path.join(tmpdir(), `shoal-sup-${h}.sock`);
}

/** What the agent writes before it starts a supervisor. */
export interface SupervisorConfig {
  /** Task directories must live under one of these (the runtimes' tasks roots). */
  roots: string[];
  /** Size-based rotation of each task's log. */
  rotation: { maxBytes: number; maxFiles: number };
}
