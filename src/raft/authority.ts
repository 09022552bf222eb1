import type { RaftCore } from './core.js';

/**
 * Until when a leader surely leads, on its own monotonic clock: a quorum
 * acknowledged a heartbeat sent at leader tick T (RaftCore.quorumAck), and
 * with CheckQuorum none of those followers votes for anyone else within the
 * minimum election timeout of hearing it, so no other leader exists before
 * the time tick T ran + electionTicksMin × tickMs. The fencing lease grants
 * renewals only within it (manager/lease). The driver and the whole-cluster
 * simulation both keep one, fed with each tick's time.
 */
export class LeaderAuthority {
  /** Leader tick → the monotonic ms it ran at (only an election timeout's worth is kept). */
  private readonly tickTimes = new Map<number, number>();

  constructor(
    private readonly core: RaftCore,
    private readonly tickMs: number,
  ) {}

  /** Call after every core.tick(), with the monotonic time it ran at. */
  ticked(now: number): void {
    const q = this.core.quorumAck();
    if (q) {
      this.tickTimes.set(q.nowTick, now);
      for (const t of this.tickTimes.keys()) {
        if (t >= q.nowTick - this.core.options.electionTicksMax - 1) break;
        this.tickTimes.delete(t);
      }
    } else if (this.tickTimes.size > 0) this.tickTimes.clear();
  }

  /** -Infinity when not leading or nothing is acknowledged yet; Infinity for a single voter (it leads until its configuration changes). */
  until(): number {
    const q = this.core.quorumAck();
    if (!q) return -Infinity;
    if (this.core.confState().voters.length === 1) return Infinity;
    const sentAt = this.tickTimes.get(q.ackTick);
    if (sentAt === undefined) return -Infinity;
    return sentAt + this.core.options.electionTicksMin * this.tickMs;
  }
}
