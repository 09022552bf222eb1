import { assert } from '../../util/assert.js';
import type { LeaseReportAck, LeaseReportBody } from '../../protocol/lease.js';
import type { LeaseOptions } from './options.js';

/**
 * The fencing lease, manager side: a pure state machine. Time comes in as
 * arguments (monotonic ms); the driver (service.ts) does the I/O.
 *
 * The rule it keeps: a task may run on a node only while some manager has
 * recently heard from that node, and the managers replace a node's tasks
 * only once the node has surely stopped them.
 *
 * The protocol:
 * - Every node's supervisor sends `renew` to every manager every R. A
 *   manager that may grant records the node's contact (its receipt time)
 *   and grants. The node's lease then runs until (the grant's SEND time +
 *   F); the send precedes the receipt, so the node's deadline is never later
 *   than (the granting manager's contact time + F). With no grant for F the
 *   node kills its tasks (its supervisor ends itself, taking its tasks with
 *   it).
 * - Who may grant: the leader while it surely leads (its Raft authority: a
 *   quorum acknowledged a heartbeat it sent within the election timeout, so
 *   no other leader can exist yet), and a follower holding a token: the
 *   leader acknowledged one of its reports, sent at s, so it may grant until
 *   s + H. Followers report every R: the nodes they granted and how long ago.
 *   So while any manager hears a node, the node keeps its lease, even during
 *   an election (H outlasts one).
 * - Down decisions, on the leader only. The leader knows every contact
 *   (its own and the reported ones, dated conservatively: receipt of the
 *   report minus the reported age). To replace node n it first REVOKES n:
 *   it stops granting n and puts n on the revocation list that every
 *   acknowledgement carries, so a follower stops granting n before its next
 *   report, which confirms the list version it holds. n is declared down at
 *     T = max(last contact of n, leaderSince, pending) + F + margin
 *   where `pending` covers managers that have not confirmed the revocation:
 *   they may still grant n until their token runs out, at most their last
 *   acknowledgement (or, before any, leaderSince) + H. A previous leader's
 *   own grants ended with its authority, before leaderSince.
 * - Hence any grant to n happened before T - F - margin, n's lease ended
 *   before T - margin, and the margin covers n's fence firing late. The
 *   argument assumes monotonic clocks that run at about the same rate on
 *   every machine (not synchronised ones) and a fence that acts within the
 *   margin of its deadline — the usual assumptions of leases.
 * - When to revoke: a node not heard for F - 2R whose agent is not
 *   connected either (its own lease is nearly over anyway: revoking then lets
 *   the followers confirm within R, before the deadline), a node whose agent
 *   has been gone for G (the driver decides), a removed node. A revocation not yet decided is lifted when the
 *   node's agent comes back; a decided one stays until the node re-registers
 *   after the down state is committed.
 */

export type LeaseRole = 'leader' | 'follower' | 'none';

/**
 * What the store says of a node, as far as the lease is concerned: not in
 * the cluster, down (its tasks were replaced), joined but never registered
 * (it cannot have been given tasks), or up (ready or disconnected).
 */
export type NodeStanding = 'unknown' | 'down' | 'new' | 'up';

export type RenewResult = { granted: true } | { granted: false; reason: string };

interface Revocation {
  version: number;
  at: number;
  why: string;
  /** The down decision was taken (proposed); the revocation now lasts until the node re-registers. */
  decided: boolean;
}

interface Peer {
  /** When this leader last acknowledged the peer's report (its token runs until that + H at most). */
  lastAck: number | null;
  /** The revocation-list version of this leader's term the peer has confirmed applying. */
  confirmed: number;
}

export interface TickInput {
  /**
   * Every node the store knows, with its standing, and whether its agent has
   * a session with the leader: a node whose agent is connected is alive, so
   * its supervisor's silence (starting up, or dead — with its tasks) is no
   * reason to replace anything.
   */
  nodes: { id: string; standing: NodeStanding; agent: boolean; holdUntil?: number }[];
  /** The other managers (Raft voters and learners), whose grants the leader must account for. */
  peers: string[];
}

export interface TickOutput {
  revoked: { node: string; why: string }[];
  down: { node: string; why: string }[];
}

export class LeaseCore {
  private role: LeaseRole = 'none';
  private term = 0;
  private leaderSince = -Infinity;
  private authorityUntil = -Infinity;
  private tokenUntil = -Infinity;
  /** node → time of the last renewal granted to it by any manager (as far as this one knows). */
  private readonly contacts = new Map<string, number>();
  /** Leader: node → when its agent (re)registered; it is not judged silent before it could renew. */
  private readonly baselines = new Map<string, number>();
  /** Leader: the revocation list of this term. */
  private readonly revocations = new Map<string, Revocation>();
  private version = 0;
  private readonly peers = new Map<string, Peer>();
  /** Follower: the last revocation list applied, and which leader term and version it came from. */
  private held: { term: number; version: number; revoked: Set<string> } = { term: 0, version: 0, revoked: new Set() };

  constructor(readonly opts: LeaseOptions) {}

  get currentRole(): LeaseRole {
    return this.role;
  }

  becomeLeader(term: number, now: number): void {
    this.role = 'leader';
    this.term = term;
    this.leaderSince = now;
    this.authorityUntil = -Infinity;
    this.revocations.clear();
    this.baselines.clear();
    this.peers.clear();
    this.version = 0;
  }

  becomeFollower(): void {
    this.role = 'follower';
    this.revocations.clear();
    this.peers.clear();
  }

  stop(): void {
    this.role = 'none';
    this.revocations.clear();
    this.peers.clear();
  }

  /** Leader: Raft says no other leader can exist before `until`. */
  setAuthority(until: number): void {
    if (this.role === 'leader') this.authorityUntil = until;
  }

  mayGrant(now: number): boolean {
    if (this.role === 'leader') return now < this.authorityUntil;
    if (this.role === 'follower') return now < this.tokenUntil;
    return false;
  }

  renew(node: string, standing: NodeStanding, now: number): RenewResult {
    if (standing === 'unknown') return { granted: false, reason: `node ${node} is not part of this cluster` };
    if (standing === 'down') return { granted: false, reason: 'the node is down and its tasks were replaced: its agent must register again' };
    const rev = this.role === 'leader' ? this.revocations.get(node) : undefined;
    if (rev) return { granted: false, reason: `lease revoked: ${rev.why}` };
    if (this.role === 'follower' && this.held.revoked.has(node)) return { granted: false, reason: 'lease revoked by the leader' };
    if (!this.mayGrant(now)) {
      return { granted: false, reason: this.role === 'leader' ? 'this leader cannot confirm it still leads' : 'this manager has not heard from a leader recently' };
    }
    const prev = this.contacts.get(node);
    if (prev === undefined || now > prev) this.contacts.set(node, now);
    return { granted: true };
  }

  /** Follower: what to tell the leader. Contacts older than 2F cannot matter to any decision. */
  report(from: string, now: number): LeaseReportBody {
    const contacts: { node: string; agoMs: number }[] = [];
    for (const [node, t] of this.contacts) {
      const ago = now - t;
      if (ago <= 2 * this.opts.fenceMs) contacts.push({ node, agoMs: Math.max(0, Math.round(ago)) });
      else if (ago > 20 * this.opts.fenceMs) this.contacts.delete(node);
    }
    return { from, contacts, term: this.held.term, version: this.held.version };
  }

  /** Follower: the leader acknowledged the report sent at `sentAt`. */
  onAck(sentAt: number, ack: LeaseReportAck): void {
    if (this.role !== 'follower') return;
    // Apply the list before anything else can be granted: the next report confirms it.
    if (ack.term > this.held.term || (ack.term === this.held.term && ack.version >= this.held.version)) {
      this.held = { term: ack.term, version: ack.version, revoked: new Set(ack.revoked) };
    }
    this.tokenUntil = Math.max(this.tokenUntil, sentAt + this.opts.tokenMs);
  }

  /** Leader: a follower's report. Null when this leader may not hand out tokens now. */
  onReport(body: LeaseReportBody, now: number): LeaseReportAck | null {
    if (this.role !== 'leader' || !this.mayGrant(now)) return null;
    for (const c of body.contacts) {
      // The follower granted at (its send time - ago) <= (our receipt - ago): later is the safe side.
      const t = now - c.agoMs;
      const prev = this.contacts.get(c.node);
      if (prev === undefined || t > prev) this.contacts.set(c.node, t);
    }
    const peer = this.peers.get(body.from) ?? { lastAck: null, confirmed: 0 };
    peer.lastAck = now;
    if (body.term === this.term) peer.confirmed = Math.max(peer.confirmed, body.version);
    this.peers.set(body.from, peer);
    return { term: this.term, version: this.version, revoked: [...this.revocations.keys()] };
  }

  revoke(node: string, why: string, now: number): boolean {
    assert(this.role === 'leader', 'only the leader revokes');
    if (this.revocations.has(node)) return false;
    this.version++;
    this.revocations.set(node, { version: this.version, at: now, why, decided: false });
    return true;
  }

  isRevoked(node: string): boolean {
    return this.revocations.has(node);
  }

  isDecided(node: string): boolean {
    return this.revocations.get(node)?.decided === true;
  }

  /** The node's agent is back before any down decision: it may renew again. False if a decision was taken. */
  lift(node: string): boolean {
    const r = this.revocations.get(node);
    if (!r || r.decided) return false;
    this.revocations.delete(node);
    this.version++;
    return true;
  }

  /** The node re-registered after its down state was committed (or was removed): forget the revocation. */
  clear(node: string): void {
    if (!this.revocations.delete(node)) return;
    this.version++;
  }

  /**
   * Leader: the node's agent registered now. Its renewals may have been
   * refused until this moment (a new node, or one that was down): judge its
   * silence from here. This only ever delays a decision, so it cannot make
   * one unsafe.
   */
  registered(node: string, now: number): void {
    this.baselines.set(node, now);
  }

  /** When the leader starts counting a node's silence: its last contact, its registration, or the takeover. */
  private silentSince(node: string): number {
    return Math.max(this.lastContact(node), this.baselines.get(node) ?? -Infinity);
  }

  /** The last contact the leader may count on for `node` (its own, reported, or its takeover). */
  lastContact(node: string): number {
    return Math.max(this.contacts.get(node) ?? -Infinity, this.leaderSince);
  }

  /** Leader: the earliest time `node` (revoked) may be declared down. */
  downAt(node: string, peers: string[]): number {
    const r = this.revocations.get(node);
    assert(r, `downAt(${node}) of a node that is not revoked`);
    let base = this.lastContact(node);
    for (const p of peers) {
      const peer = this.peers.get(p);
      if (peer && peer.confirmed >= r.version) continue;
      base = Math.max(base, (peer?.lastAck ?? this.leaderSince) + this.opts.tokenMs);
    }
    return base + this.opts.fenceMs + this.opts.marginMs;
  }

  /** Leader: revoke silent nodes, and decide revoked nodes whose deadline passed. */
  tick(now: number, input: TickInput): TickOutput {
    const out: TickOutput = { revoked: [], down: [] };
    if (this.role !== 'leader') return out;
    const silentAfter = this.opts.fenceMs - 2 * this.opts.renewEveryMs;
    const live = new Set<string>();
    for (const n of input.nodes) {
      live.add(n.id);
      if (n.standing !== 'up') continue;
      const r = this.revocations.get(n.id);
      if (!r) {
        if (n.agent) continue;
        const quiet = now - this.silentSince(n.id);
        if (quiet >= silentAfter) {
          const why = `no lease renewal heard for ${Math.round(quiet)} ms`;
          this.revoke(n.id, why, now);
          out.revoked.push({ node: n.id, why });
        }
        continue;
      }
      // A decided node still up in the store: its down proposal is in flight or failed; the driver retries.
      // `holdUntil`: a supervisor may hold the node's tasks through an expired lease until then (sole-manager.ts).
      if (r.decided || now >= Math.max(this.downAt(n.id, input.peers), n.holdUntil ?? Number.NEGATIVE_INFINITY)) {
        r.decided = true;
        out.down.push({ node: n.id, why: r.why });
      }
    }
    // Removed nodes need no revocation any more.
    for (const id of [...this.revocations.keys()]) if (!live.has(id)) this.clear(id);
    for (const id of [...this.baselines.keys()]) if (!live.has(id)) this.baselines.delete(id);
    return out;
  }

  /** For tests and status. */
  snapshot(): { role: LeaseRole; revoked: string[]; version: number; heldRevoked: string[]; tokenUntil: number; authorityUntil: number } {
    return { role: this.role, revoked: [...this.revocations.keys()], version: this.version, heldRevoked: [...this.held.revoked], tokenUntil: this.tokenUntil, authorityUntil: this.authorityUntil };
  }
}
