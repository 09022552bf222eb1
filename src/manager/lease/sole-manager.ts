/**
 * Grants that say "sole manager", and the wait before a one-voter cluster
 * grows. A pure state machine: time comes in as arguments (monotonic ms).
 *
 * Why. A cluster with one manager (`shoal up --managers 1`, a single-node
 * cluster) has every task of that manager's own node under a lease only that
 * manager grants. Kill its daemon and restart it: the lease runs out a fence
 * period later and, as on any silent node, the supervisor would kill every
 * task. Yet nobody could have replaced them: every Raft quorum of a one-voter
 * configuration is that voter, so while its process is dead no leader exists
 * anywhere. So a grant from the leader of a one-voter configuration to its own
 * node's supervisor, while that supervisor holds tasks, says `soleManager`;
 * and a supervisor whose newest grant said so holds its tasks through an
 * expired lease while that manager's process is dead, or has just come back
 * (worker/supervisor/lease.ts, fenceHeldOff). This is dockerd's live-restore
 * for a single node; a daemon that is alive but silent is fenced as always.
 *
 * What keeps it safe is that the configuration cannot outgrow the proof
 * behind the grants. A quorum that leaves this manager out needs three
 * voters, and the configuration grows one voter at a time, each change made
 * by a leader of the configuration before it; the first step, from one
 * voter, is made by this manager alone. Before it adds any voter (that step,
 * or a later one: a sole grant may outlive a removal entry lost in a crash)
 * the manager stops saying "sole" and waits until
 *   - every sole grant it gave has run out (last one + F + margin): after
 *     that the supervisor either has a newer, plain grant or saw its lease
 *     run out while this manager was alive, and fenced;
 *   - the grace its own supervisor gave this daemon on meeting it (a sole
 *     grant of an earlier incarnation may still be the newest there) has
 *     passed, plus the margin. The daemon learns that grace when it configures its
 *     supervisor, which it does before anything else may wait here (the
 *     manager's `fenceHandoff`), so an unknown grace is never taken for none.
 * A configuration of two voters still needs this manager in every quorum, so
 * by the time a third voter can make one without it, its node's supervisor
 * holds only plain grants. And while the grace runs, this manager does not
 * declare its own node down either (`ownHoldUntil`, the lease core's
 * `holdUntil`): the supervisor may still be holding the tasks.
 */
export class SoleManagerGrants {
  private lastSoleGrant = Number.NEGATIVE_INFINITY;
  /** Voter additions under way: no sole grant while any is. */
  private growing = 0;
  /**
   * Until when this node's own supervisor may hold its tasks on a sole grant
   * of an earlier incarnation (monotonic ms): +Infinity until `handedOff`
   * says; the lease never declares this node down before it.
   */
  ownHoldUntil = Number.POSITIVE_INFINITY;

  constructor(private readonly opts: { fenceMs: number; marginMs: number }) {}

  /**
   * Whether a grant made now to `node` says "sole manager": this manager
   * leads a configuration whose one voter is itself, the renewal is its own
   * node's supervisor holding tasks, and no voter is being added.
   */
  grant(now: number, g: { leader: boolean; self: string; voters: readonly string[]; node: string; tasks: boolean }): boolean {
    if (this.growing > 0 || !g.leader || !g.tasks || g.node !== g.self || g.voters.length !== 1 || g.voters[0] !== g.self) return false;
    this.lastSoleGrant = Math.max(this.lastSoleGrant, now);
    return true;
  }

  /** A voter addition begins: sole grants stop until `end()` is called. */
  begin(): { end(): void } {
    this.growing++;
    let ended = false;
    return {
      end: () => {
        if (ended) return;
        ended = true;
        this.growing--;
      },
    };
  }

  /** This daemon has configured its supervisor, which gave it a grace until `graceUntil` (monotonic ms; 0: none). */
  handedOff(graceUntil: number): void {
    this.ownHoldUntil = graceUntil > 0 ? graceUntil + this.opts.marginMs : Number.NEGATIVE_INFINITY;
  }

  /** When (monotonic ms) a voter may be added: once every sole grant and the grace (+ margin) are over; never before `handedOff`. */
  readyAt(): number {
    return Math.max(this.lastSoleGrant + this.opts.fenceMs + this.opts.marginMs, this.ownHoldUntil);
  }
}
