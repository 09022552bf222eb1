/**
 * How the orchestrator reads tasks and nodes. Every rule about "is this task
 * still a copy that might run" lives here, so replicated, global, update and
 * history code agree on it.
 */
import { isTerminal, stateRank } from '../../model/index.js';
import type { Node, Task, TaskSpec, TaskState } from '../../model/index.js';
import { weakMemo } from '../../util/weak-memo.js';

const RUNNING = stateRank('running');
const ASSIGNED = stateRank('assigned');

/** The orchestrator still wants the task to run (or to get ready to run: a delayed start). */
export function isLiveDesired(d: TaskState): boolean {
  return stateRank(d) <= RUNNING;
}

/**
 * The task can never run again: it reported a terminal state, or it was
 * stopped before any agent saw it (an agent only learns of a task once the
 * scheduler moves it to 'assigned', and the scheduler never assigns a task
 * whose desired state is past running). Nobody will ever report on the
 * latter, so treating it as terminal is what lets it be pruned.
 */
export function isDead(t: Task, desired: TaskState = t.DesiredState): boolean {
  return isTerminal(t.Status.State) || (!isLiveDesired(desired) && neverRan(t));
}

export function neverRan(t: Task): boolean {
  return stateRank(t.Status.State) < ASSIGNED;
}

/** Exited by itself (as opposed to being stopped by the orchestrator or lost with its node). */
export function exitedOnItsOwn(s: TaskState): boolean {
  return s === 'complete' || s === 'failed' || s === 'rejected';
}

export function createdMs(t: Task): number {
  const o = t.Orchestration?.CreatedMs;
  if (o !== undefined && Number.isFinite(o)) return o;
  const p = Date.parse(t.CreatedAt);
  return Number.isFinite(p) ? p : 0;
}

/** When the task stopped, for ordering history: our own record first, then the agent's timestamp. */
export function endedMs(t: Task): number {
  const o = t.Orchestration?.ExitedMs;
  if (o !== undefined && Number.isFinite(o)) return o;
  const p = Date.parse(t.Status.Timestamp);
  return Number.isFinite(p) ? Math.max(p, createdMs(t)) : createdMs(t);
}

/** Newest first: creation time, then id so equal times still order the same way everywhere. */
export function newestFirst(a: Task, b: Task): number {
  return createdMs(b) - createdMs(a) || (a.ID < b.ID ? 1 : a.ID > b.ID ? -1 : 0);
}

/** Oldest first. */
export function oldestFirst(a: Task, b: Task): number {
  return -newestFirst(a, b);
}

// ------------------------------------------------------------------ nodes

/** Nodes by id, with the questions the orchestrator asks about them. */
export class NodeIndex {
  private readonly byId = new Map<string, Node>();
  constructor(nodes: readonly Node[]) {
    for (const n of nodes) this.byId.set(n.ID, n);
  }
  get(id: string): Node | undefined {
    return this.byId.get(id);
  }
  all(): Node[] {
    return [...this.byId.values()].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  }
  /** Removed from the cluster: nobody will ever report on its tasks again. */
  isGone(id: string): boolean {
    return id !== '' && !this.byId.has(id);
  }
  /**
   * Dead: its tasks are replaced at once. Only 'down' counts: 'unknown' is
   * what every node is right after a leader change until its next heartbeat,
   * and 'disconnected' a node that is leaving or reconnecting; rescheduling on
   * those would move every task of the cluster at each failover.
   */
  isDown(id: string): boolean {
    const n = this.byId.get(id);
    return n === undefined || n.Status.State === 'down';
  }
  isDrained(id: string): boolean {
    return this.byId.get(id)?.Spec.Availability === 'drain';
  }
  /** Might still run a task it was given (so a replacement waits for it to stop). */
  mayRun(id: string): boolean {
    return id !== '' && !this.isDown(id);
  }
}

// -------------------------------------------------------------- spec equality

/**
 * Canonical JSON of a task spec: keys sorted, undefined members dropped, so
 * `{A: 1, B: undefined}` equals `{A: 1}` (a spec that went through JSON or
 * msgpack loses undefined members; it must not look changed).
 */
export function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return v === undefined ? 'null' : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => canonical(x)).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
}

/**
 * One canonical string per spec object, kept across decisions: the store
 * replaces an object to change it (a status report makes a new task that
 * shares its Spec), so a spec object's string never goes stale, and each
 * task's is computed once instead of once per decision (at 300 tasks,
 * ~230 decisions while they start, a large part of each). Weak: it holds no
 * spec the store has dropped.
 */
const specKey = weakMemo((spec: TaskSpec) => canonical(spec));

/** Whether two specs are equal by canonical string (computed once per spec object). */
export function sameSpec(a: TaskSpec, b: TaskSpec): boolean {
  return a === b || specKey(a) === specKey(b);
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
