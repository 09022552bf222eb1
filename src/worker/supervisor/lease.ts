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

  granted(sentAt: number, fenceMs: number): void {
    this.everGranted = true;
    this.fenceMs = fenceMs;
    if (sentAt > this.lastGrantSentAt) this.lastGrantSentAt = sentAt;
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
  /** The node's key, certificate and CA: the managers take only mutual-TLS connections. */
  tls?: LeaseTls;
}

export interface LeaseTls {
  key: string;
  cert: string;
  ca: string;
}

export type LeaseThreadMessage = { type: 'managers'; managers: string[] } | { type: 'tls'; tls: LeaseTls };
export type LeaseThreadEvent = { type: 'lease'; state: 'valid' | 'expired'; remainingMs: number } | { type: 'log'; msg: string };

export const SLOT_UNTIL = 0;
export const SLOT_HELD = 1;
