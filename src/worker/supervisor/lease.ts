/**
 * The node's side of the fencing lease (manager/lease/core.ts has the whole
 * protocol): valid until the SEND time of the newest granted renewal plus
 * the fence period the granting manager named. Dating a grant by when the
 * renewal left, not when the answer came back, keeps the node's deadline at
 * or before every manager's view of its last contact + F.
 */
export class NodeLease {
  until = 0;
  fenceMs = 0;
  lastGrantSentAt = 0;
  everGranted = false;
  /** The newest grant came from the cluster's only manager, running on this node (see fenceHeldOff). */
  lastGrantSole = false;
  /** With a sole grant: the managers' down-decision margin (a hold-off must begin within it of the deadline). */
  soleMarginMs = 0;

  granted(sentAt: number, fenceMs: number, sole: { marginMs: number } | null = null): void {
    this.everGranted = true;
    this.fenceMs = fenceMs;
    if (sentAt >= this.lastGrantSentAt) {
      this.lastGrantSentAt = sentAt;
      this.lastGrantSole = sole !== null;
      this.soleMarginMs = sole?.marginMs ?? 0;
    }
    const u = sentAt + fenceMs;
    if (u > this.until) this.until = u;
  }

  valid(now: number): boolean {
    return now < this.until;
  }
}

/** What the supervisor hands its lease thread (lease-thread.ts). */
export interface LeaseThreadData {
  nodeId: string;
  managers: string[];
  renewEveryMs: number;
  fenceCheckMs: number;
  shared: SharedArrayBuffer;
  /** Where to say why the supervisor ended itself. */
  fencedFile: string;
  /** The daemon that configured the supervisor first (later ones come as messages). */
  daemon?: DaemonRef;
  /** The node's key, certificate and CA: the managers take only mutual-TLS connections. */
  tls?: LeaseTls;
}

export interface LeaseTls {
  key: string;
  cert: string;
  ca: string;
}

export type LeaseThreadMessage =
  | { type: 'managers'; managers: string[] }
  | { type: 'tls'; tls: LeaseTls }
  | { type: 'daemon'; daemon: DaemonRef }
  /** The configuring daemon's connection closed: see when its process is gone. */
  | { type: 'daemon-closed'; pid: number };
export type LeaseThreadEvent = { type: 'lease'; state: 'valid' | 'expired'; remainingMs: number } | { type: 'log'; msg: string };

export const SLOT_UNTIL = 0;
export const SLOT_HELD = 1;
/** 1 while the newest grant was a sole manager's (NodeLease.lastGrantSole), written by the lease thread. */
export const SLOT_SOLE = 2;
/** The fence period the newest grant named (ms), written by the lease thread. */
export const SLOT_FENCE_MS = 3;
export const SHARED_SLOTS = 4;

/**
 * The node daemon that last configured this supervisor, as the lease thread
 * sees it: its process (PID and start time, read while it waited for our
 * answer) and, when it came while the newest grant was a sole manager's,
 * until when (monotonic ms) it may take to grant us again.
 */
export interface DaemonRef {
  pid: number;
  startTime: string;
  graceUntil: number;
}

/** How long a restarted sole manager has to grant its own node again: SOLE_GRACE_PERIODS fence periods. */
export const SOLE_GRACE_PERIODS = 3;

/**
 * Whether an expired lease may leave the tasks running: only when the newest
 * grant said the cluster's one manager is this node's own, and that manager
 * cannot be acting — its process is dead — or has just come back and has not
 * yet had the grace period to renew us (a restart reads 300 tasks back before
 * its loop is free).
 *
 * Why no replacement can then run beside these tasks
 * (manager/lease/sole-manager.ts has the managers' half): every Raft quorum of
 * a one-voter cluster is that voter, so while its process is dead no leader
 * exists anywhere, and nothing decides this node down or places its tasks.
 * The configuration can grow again only through that manager, and before it
 * adds a voter it stops saying "sole" and waits out both every sole grant it
 * gave and this grace, and it never declares its own node down before the
 * grace has passed. A daemon alive but silent (stopped, stalled, or cut off)
 * is no such proof: the lease is fenced as always. `diedBy`: when the daemon
 * was first seen dead (monotonic ms); `holding`: the hold-off began earlier.
 */
export function fenceHeldOff(
  lease: Pick<NodeLease, 'lastGrantSole' | 'soleMarginMs' | 'until'>,
  daemon: { alive: boolean; graceUntil: number; diedBy: number | null } | null,
  now: number,
  holding: boolean,
): boolean {
  if (!lease.lastGrantSole || !daemon) return false;
  // Back, within its grace: its manager declares this node down only after it (service.ts, ownHoldUntil).
  if (daemon.alive) return now < daemon.graceUntil;
  // Dead: only if known dead within half the managers' margin of the deadline. Alive at
  // T = deadline + margin, it could have declared this node down before dying.
  return holding || (daemon.diedBy !== null && daemon.diedBy <= lease.until + lease.soleMarginMs / 2);
}
