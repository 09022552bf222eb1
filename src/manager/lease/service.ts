import type { Connection, Transport } from '../../wire/interface.js';
import { sleepOn, systemTimers, type TimerHandle, type Timers } from '../../util/timers.js';
import type { Store } from '../store/store.js';
import { LeaseCore, type NodeStanding } from './core.js';
import { SoleManagerGrants } from './sole-manager.js';
import { LeaseRenew, LeaseReport, type LeaseReportBody } from '../../protocol/lease.js';
import { DEFAULT_LEASE_OPTIONS, checkLeaseOptions, type LeaseOptions } from './options.js';
import { LeaseError } from './errors.js';
import { impersonation } from '../../wire/pki/identity.js';
import { newLeaseMetrics, type LeaseMetrics } from './metrics.js';
import { AGENT_GRACE_PERIODS, heartbeatPeriodMs } from '../heartbeat-period.js';
import { componentLogger, type Logger } from '../../util/log/interface.js';

/** How long a voter addition waits for this node's supervisor to be configured (fenceHandoff) before it gives up. */
const HANDOFF_DEADLINE_MS = 60_000;

/** What the lease needs from the rest of the manager. */
export interface LeaseServiceDeps {
  transport: Transport;
  /** This manager's node ID. */
  nodeId: string;
  store: Store;
  /** Raft: role, term, leader and configuration, and (leader) until when it surely leads. */
  raft: {
    status(): { role: string; term: number; leader: string | null; conf: { voters: string[]; learners: string[] } };
    authorityUntil(): number;
  };
  /** Cluster address of a manager, for followers' reports to the leader. */
  addressOf(nodeId: string): string | undefined;
  /** The dispatcher's view of agents (leader only). */
  agents: {
    /** Monotonic ms since when the node has had no agent session (undefined while it has one). */
    absentSince(nodeId: string): number | undefined;
    /** Proposes the node down (idempotent while a proposal is in flight). */
    markDown(nodeId: string, why: string): void;
  };
  options?: Partial<LeaseOptions>;
  /**
   * Resolves once this node's supervisor is configured by this process, with
   * the monotonic ms until which it may hold tasks on an earlier
   * incarnation's sole grant (0: none). Until then this manager adds no voter
   * and never declares its own node down (sole-manager.ts); without it,
   * nothing to wait for.
   */
  fenceHandoff?: Promise<number>;
  /** Clocks and timers (default: the machine's); a simulation passes its own. */
  timers?: Timers;
  /** Records carry component=lease. */
  log?: Logger;
}

/**
 * Drives the fencing lease (core.ts) on one manager: answers nodes'
 * renewals, and every renewal period either reports to the leader
 * (follower) or revokes silent and agent-less nodes and declares down those
 * whose deadline passed (leader).
 */
export class LeaseService {
  readonly core: LeaseCore;
  readonly opts: LeaseOptions;
  readonly metrics: LeaseMetrics = newLeaseMetrics();
  private timer: TimerHandle | null = null;
  private decideTimer: TimerHandle | null = null;
  private readonly timers: Timers;
  private readonly now: () => number;
  private reporting = false;
  private leaderConn: { id: string; conn: Promise<Connection> } | null = null;
  private stopped = false;
  private readonly sole: SoleManagerGrants;
  private readonly handoff: Promise<number>;

  private readonly logger: Logger;

  constructor(private readonly deps: LeaseServiceDeps) {
    this.logger = componentLogger(deps.log, 'lease');
    this.opts = { ...DEFAULT_LEASE_OPTIONS, ...deps.options };
    checkLeaseOptions(this.opts);
    this.core = new LeaseCore(this.opts);
    this.sole = new SoleManagerGrants(this.opts);
    this.handoff = deps.fenceHandoff ?? Promise.resolve(0);
    this.handoff.then(
      (graceUntil) => this.sole.handedOff(graceUntil),
      () => {},
    );
    this.timers = deps.timers ?? systemTimers;
    this.now = () => this.timers.now();
    deps.transport.onRequest(LeaseRenew, (b, conn) => {
      const forged = impersonation(conn.peer, b.nodeId);
      if (forged) throw new LeaseError('PERMISSION_DENIED', forged);
      return this.renew(b.nodeId, b.tasks === true);
    });
    deps.transport.onRequest(LeaseReport, (b) => this.onReport(b as LeaseReportBody));
  }

  start(): void {
    this.sync();
    this.timer = this.timers.setInterval(() => this.periodic(), this.opts.renewEveryMs);
    this.decideTimer = this.timers.setInterval(() => this.decide(), this.opts.decideEveryMs);
  }

  stop(): void {
    this.stopped = true;
    this.timers.clear(this.timer);
    this.timers.clear(this.decideTimer);
    this.timer = null;
    this.decideTimer = null;
    this.core.stop();
    this.dropLeaderConn();
    this.deps.transport.off(LeaseRenew);
    this.deps.transport.off(LeaseReport);
  }

  /** The Raft role changed (the manager calls this on every leadership change). */
  sync(): void {
    if (this.stopped) return;
    const st = this.deps.raft.status();
    if (st.role === 'leader') {
      if (this.core.currentRole !== 'leader') {
        this.core.becomeLeader(st.term, this.now());
        this.logger.info({ term: st.term }, `leading the fencing lease (term ${st.term})`);
      }
      this.core.setAuthority(this.deps.raft.authorityUntil());
      this.dropLeaderConn();
    } else if (this.core.currentRole !== 'follower') {
      this.core.becomeFollower();
    }
  }

  /**
   * An agent opens a session. A revocation not yet decided is lifted (the
   * node is back before anything was replaced); a decided one is forgotten
   * once the down state is committed (the node registers again from
   * scratch), and until then the session is refused.
   */
  admit(nodeId: string): string | null {
    if (this.core.currentRole !== 'leader') return null;
    if (this.core.isDecided(nodeId)) {
      if (this.standing(nodeId) !== 'down') return 'the node is being declared down (its lease was revoked); try again in a moment';
      this.core.clear(nodeId);
    } else if (this.core.lift(nodeId)) {
      this.logger.info({ peer: nodeId }, `node ${nodeId}'s agent is back: lease revocation lifted`);
    }
    this.core.registered(nodeId, this.now());
    return null;
  }

  private standing(nodeId: string): NodeStanding {
    const n = this.deps.store.get('node', nodeId);
    return n ? standingOf(n.Status.State) : 'unknown';
  }

  private renew(nodeId: string, tasks: boolean): { granted: boolean; fenceMs: number; reason?: string; soleManager?: boolean; marginMs?: number } {
    this.sync();
    const now = this.now();
    const r = this.core.renew(nodeId, this.standing(nodeId), now);
    if (r.granted) {
      this.metrics.grants++;
      // The configuration is read only for this node's own supervisor holding tasks (one renewal in N).
      const sole =
        nodeId === this.deps.nodeId && tasks && this.sole.grant(now, { leader: this.core.currentRole === 'leader', self: this.deps.nodeId, voters: this.deps.raft.status().conf.voters, node: nodeId, tasks });
      return { granted: true, fenceMs: this.opts.fenceMs, ...(sole ? { soleManager: true, marginMs: this.opts.marginMs } : {}) };
    }
    this.metrics.refusals++;
    return { granted: false, fenceMs: this.opts.fenceMs, reason: r.reason };
  }

  /**
   * Before a voter is added: if the configuration has one voter (this
   * manager), stop sole grants and wait until none given, and no grace this
   * node's supervisor gave its daemon, can still hold tasks (sole-manager.ts).
   * Call `end()` on the result once the addition is over, done or not.
   */
  async beforeVoterAdded(): Promise<{ end(): void }> {
    const growing = this.sole.begin();
    try {
      // Whatever the voter count: a configuration of two may still have a sole grant out (one
      // given just before the removal that made it one voter was lost in a crash).
      const configured = await Promise.race([this.handoff.then(() => true), sleepOn(this.timers, HANDOFF_DEADLINE_MS).then(() => false)]);
      if (!configured) throw new LeaseError('NOT_CONFIGURED', `this node's task supervisor was not configured within ${HANDOFF_DEADLINE_MS} ms: no voter is added before it is`);
      const wait = this.sole.readyAt() - this.now();
      if (wait > 0) {
        this.logger.info(`a second manager joins a one-manager cluster: ${Math.ceil(wait)} ms until no sole-manager grant can hold tasks`);
        await sleepOn(this.timers, Math.ceil(wait));
      }
      return growing;
    } catch (err) {
      growing.end();
      throw err;
    }
  }

  private onReport(body: LeaseReportBody): { term: number; version: number; revoked: string[] } {
    this.sync();
    const ack = this.core.onReport(body, this.now());
    if (!ack) throw new LeaseError('NOT_LEADER', 'this manager does not lead (or cannot confirm it still does)');
    this.metrics.reportsReceived++;
    return ack;
  }

  // ------------------------------------------------------------- periodic

  private periodic(): void {
    if (this.stopped) return;
    this.sync();
    if (this.core.currentRole === 'follower') void this.report();
  }

  private lastDecide = 0;

  private decide(): void {
    if (this.stopped) return;
    const now = this.now();
    const late = this.lastDecide > 0 && now - this.lastDecide > 4 * this.opts.decideEveryMs;
    this.lastDecide = now;
    this.sync();
    if (this.core.currentRole !== 'leader') return;
    // After a stall of this process, renewals that arrived meanwhile are still
    // queued: timers run before I/O. Decide only after they are read (the
    // check phase follows the poll phase), and not at all on a late tick.
    if (late) return;
    this.timers.afterIo(() => {
      if (!this.stopped && this.core.currentRole === 'leader') this.lead();
    });
  }

  private peers(): string[] {
    const { voters, learners } = this.deps.raft.status().conf;
    return [...voters, ...learners].filter((id) => id !== this.deps.nodeId);
  }

  private lead(): void {
    const now = this.now();
    const nodes = this.deps.store.list('node').map((n) => ({
      id: n.ID,
      standing: standingOf(n.Status.State),
      agent: this.deps.agents.absentSince(n.ID) === undefined,
      ...(n.ID === this.deps.nodeId ? { holdUntil: this.sole.ownHoldUntil } : {}),
    }));
    // A node whose supervisor renews but whose agent is gone cannot be managed:
    // after the grace period its tasks are replaced like a dead node's.
    const grace = this.agentGraceMs();
    for (const n of nodes) {
      if (n.standing !== 'up' || this.core.isRevoked(n.id)) continue;
      const since = this.deps.agents.absentSince(n.id);
      if (since !== undefined && now - since >= grace) {
        this.core.revoke(n.id, `its agent has been gone for ${Math.round(now - since)} ms`, now);
        this.metrics.revocations++;
        this.logger.warn({ peer: n.id }, `revoked node ${n.id}'s lease: its agent has been gone for ${Math.round(now - since)} ms`);
      }
    }
    const out = this.core.tick(now, { nodes, peers: this.peers() });
    for (const r of out.revoked) {
      this.metrics.revocations++;
      this.logger.warn({ peer: r.node }, `revoked node ${r.node}'s lease: ${r.why}`);
    }
    for (const d of out.down) this.deps.agents.markDown(d.node, `fenced: ${d.why}`);
  }

  /** G: AGENT_GRACE_PERIODS of the cluster's heartbeat period (heartbeat-period.ts); the option stands in for a cluster without one. */
  private agentGraceMs(): number {
    return AGENT_GRACE_PERIODS * heartbeatPeriodMs(this.deps.store, this.opts.agentGraceMs / AGENT_GRACE_PERIODS);
  }

  /** Follower: tell the leader whom we granted; its answer is our token to keep granting. */
  private async report(): Promise<void> {
    if (this.reporting) return;
    const leader = this.deps.raft.status().leader;
    if (!leader || leader === this.deps.nodeId) return;
    this.reporting = true;
    try {
      const conn = await this.connectionTo(leader);
      const sentAt = this.now();
      const ack = await conn.request(LeaseReport, this.core.report(this.deps.nodeId, sentAt), { timeoutMs: this.opts.renewEveryMs * 2 });
      this.core.onAck(sentAt, ack);
      this.metrics.reportsAcked++;
    } catch (err) {
      this.metrics.reportFailures++;
      this.dropLeaderConn();
      void err;
    } finally {
      this.reporting = false;
    }
  }

  private connectionTo(leader: string): Promise<Connection> {
    if (this.leaderConn?.id === leader) {
      const c = this.leaderConn.conn;
      return c.then((x) => (x.isOpen ? x : this.redial(leader)));
    }
    return this.redial(leader);
  }

  private redial(leader: string): Promise<Connection> {
    this.dropLeaderConn();
    const addr = this.deps.addressOf(leader);
    if (!addr) return Promise.reject(new LeaseError('NO_ADDRESS', `the leader ${leader}'s address is not known yet`));
    const conn = this.deps.transport.connect(addr, { expectNodeId: leader, timeoutMs: this.opts.renewEveryMs * 2 });
    conn.catch(() => {});
    this.leaderConn = { id: leader, conn };
    return conn;
  }

  private dropLeaderConn(): void {
    const c = this.leaderConn;
    this.leaderConn = null;
    c?.conn.then((x) => x.close('lease: leader changed'), () => {});
  }

}

function standingOf(state: string): NodeStanding {
  if (state === 'down') return 'down';
  return state === 'unknown' ? 'new' : 'up';
}
