import { buildNodePlan } from '../../overlay-net/plan.js';
import { verdictError } from '../store/errors.js';
import { randomBytes } from 'node:crypto';
import type { Stream } from '../../wire/interface.js';
import { defaultDispatcherOptions, type DispatcherOptions } from './options.js';
import type { DispatcherDeps } from './interface.js';
import { newDispatcherMetrics, type DispatcherMetrics } from './metrics.js';
import { DispatcherError } from './errors.js';
import { heartbeatPeriodMs } from '../heartbeat-period.js';
import { notLeaderRefusal } from '../not-leader.js';
import type { Change, StoreOp } from '../store/commands.js';
import { isTerminal, stateRank, type Node, type Task } from '../../model/index.js';
import { Heartbeat, SessionOpen, StatusReport, type AgentDescription, type SessionFrame, type StatusUpdate } from '../../protocol/dispatcher.js';
import { systemTimers, type TimerHandle, type Timers } from '../../util/timers.js';
import { impersonation } from '../../wire/pki/identity.js';
import { caTrustFrame, type CaReport } from '../membership/ca-rotation.js';
import { deniedNodes } from '../membership/deny-list.js';
import { chunkItems, dataKeysOf, openItems } from './secret-data.js';
import { componentLogger, type Logger } from '../../util/log/interface.js';

interface Session {
  nodeId: string;
  sessionId: string;
  stream: Stream<SessionFrame>;
  lastHeartbeat: number;
  /**
   * The heartbeat period this agent was last told (session frame, heartbeat
   * answers). Until it has heard a shorter one, its silence is judged by
   * this: a shortened cluster period must not disconnect every agent once.
   */
  toldMs: number;
  /** taskId → the version of the task last sent (or passed over as status-only, see pushAssignments). */
  sent: Map<string, Task>;
  /** The gossip key the node last said it sends with (heartbeats). */
  gossipKeyId?: string;
  /** The roots it trusts and the root of its certificate, as its heartbeats last said (a CA rotation waits on them). */
  caTrustId?: string;
  certIssuerId?: string;
  /** `kind/id` of the secret and config data this node holds (for tasks in `sent`). */
  sentData: Set<string>;
  /** The network plan last sent (JSON), so an unchanged plan is not sent again. */
  sentPlan?: string;
  /** The seq of the last plan sent. */
  planSeq: number;
  /**
   * The load-balancer backends (task IDs) of the plans this node may still
   * have in its kernel: the last one it said it applied and every one sent
   * after it. A task in any of them may still get connections from this node.
   */
  plans: { seq: number; backends: Set<string> }[];
  /** The seq of the newest plan this node said its kernel matches. */
  ackedSeq: number;
}

interface Pending {
  nodeId: string;
  updates: StatusUpdate[];
  resolve: (n: number) => void;
  reject: (e: Error) => void;
}


/**
 * Worker sessions, on the leader. Registers handlers on every manager;
 * only the leader serves (`startLeading`), others refuse with NOT_LEADER so
 * agents move on. An agent that stops heartbeating (3 missed) or whose
 * session closes leaves its node 'disconnected'; the node goes 'down' (and
 * its tasks are replaced) only when the fencing lease says so (`markDown`).
 */
export class Dispatcher {
  readonly metrics: DispatcherMetrics = newDispatcherMetrics();
  private readonly opts: DispatcherOptions;
  private leading = false;
  /** Monotonic ms this manager took over (agents of nodes never seen since count as absent from then). */
  private leaderSince = 0;
  private readonly sessions = new Map<string, Session>();
  private queue: Pending[] = [];
  private flushTimer: TimerHandle | null = null;
  private flushing = false;
  private checkTimer: TimerHandle | null = null;
  private unwatch: (() => void) | null = null;
  private dirtyNodes = new Set<string>();
  private pushScheduled = false;
  /** Nodes with a down proposal in flight. */
  private readonly downInFlight = new Set<string>();
  /** Monotonic ms each node's last session ended. */
  private readonly sessionEnded = new Map<string, number>();

  private readonly timers: Timers;
  private readonly newSessionId: () => string;

  private readonly logger: Logger;

  constructor(private readonly deps: DispatcherDeps) {
    this.logger = componentLogger(deps.log, 'dispatcher');
    this.opts = { ...defaultDispatcherOptions, ...deps.options };
    this.timers = deps.timers ?? systemTimers;
    this.newSessionId = deps.sessionId ?? (() => randomBytes(8).toString('hex'));
    const t = deps.transport;
    t.onStream(SessionOpen, (stream, open) => this.openSession(stream as Stream<SessionFrame>, open as SessionFrame));
    t.onRequest(Heartbeat, (b, conn) => {
      const forged = impersonation(conn.peer, b.nodeId);
      if (forged) throw new DispatcherError('PERMISSION_DENIED', forged);
      return this.heartbeat(b.nodeId, b.sessionId, b.gossipKeyId, b.caTrustId, b.certIssuerId);
    });
    t.onRequest(StatusReport, (b, conn) => {
      const forged = impersonation(conn.peer, b.nodeId);
      if (forged) throw new DispatcherError('PERMISSION_DENIED', forged);
      return this.status(b.nodeId, b.sessionId, b.updates as StatusUpdate[]);
    });
  }

  startLeading(): void {
    if (this.leading) return;
    this.leading = true;
    this.leaderSince = this.timers.now();
    this.unwatch = this.deps.ctx.store.watch((changes) => this.onChanges(changes));
    // A quarter of the period in force when leadership starts, between 25 and 250 ms: a period
    // changed later is checked at this cadence, at most 250 ms late.
    this.checkTimer = this.timers.setInterval(() => this.checkLiveness(), Math.max(25, Math.min(250, this.heartbeatMs() / 4)));
  }

  /** Leadership lost: drop every session so agents reconnect to the new leader. */
  stopLeading(): void {
    if (!this.leading) return;
    this.leading = false;
    this.unwatch?.();
    this.unwatch = null;
    this.timers.clear(this.checkTimer);
    this.checkTimer = null;
    const moved = new DispatcherError('NOT_LEADER', 'leadership moved; report to the new leader');
    for (const s of this.sessions.values()) s.stream.reset(moved);
    this.sessions.clear();
    for (const p of this.queue) p.reject(moved);
    this.queue = [];
    this.downInFlight.clear();
    this.sessionEnded.clear();
  }

  /** Monotonic ms since when `nodeId` has had no agent session; undefined while it has one. */
  absentSince(nodeId: string): number | undefined {
    if (!this.leading || this.sessions.has(nodeId)) return undefined;
    return this.sessionEnded.get(nodeId) ?? this.leaderSince;
  }

  /** Unregisters from the transport (the manager component is stopping). */
  close(): void {
    this.stopLeading();
    const t = this.deps.transport;
    t.off(SessionOpen);
    t.off(Heartbeat);
    t.off(StatusReport);
  }

  sessionCount(): number {
    return this.sessions.size;
  }

  // ------------------------------------------------------------- sessions

  private refuse(stream: Stream<SessionFrame>, why: string | DispatcherError): void {
    this.metrics.sessionsRefused++;
    stream.reset(why);
  }

  /** The refusal a non-leader gives, naming the leader it knows as data. */
  private notLeader(): DispatcherError {
    const r = notLeaderRefusal(this.deps.ctx.status());
    return new DispatcherError('NOT_LEADER', r.message, r.leader);
  }

  private openSession(stream: Stream<SessionFrame>, open: SessionFrame): void {
    if (open.type !== 'open') return this.refuse(stream, 'expected an open frame');
    // A session belongs to the node whose certificate opened it: no node takes over another's assignments.
    const forged = impersonation(stream.connection.peer, open.nodeId);
    if (forged) return this.refuse(stream, new DispatcherError('PERMISSION_DENIED', forged));
    if (!this.leading) return this.refuse(stream, this.notLeader());
    const store = this.deps.ctx.store;
    const node = store.get('node', open.nodeId);
    if (!node) return this.refuse(stream, `UNKNOWN_NODE: node ${open.nodeId} is not part of this cluster (join it with a token first)`);
    const refusal = this.deps.admit?.(open.nodeId) ?? null;
    if (refusal) return this.refuse(stream, `UNAVAILABLE: ${refusal}`);
    const old = this.sessions.get(open.nodeId);
    if (old) old.stream.reset('replaced by a newer session');
    const period = this.heartbeatMs();
    const session: Session = { nodeId: open.nodeId, sessionId: this.newSessionId(), stream, lastHeartbeat: this.timers.now(), toldMs: period, sent: new Map(), sentData: new Set(), planSeq: 0, plans: [], ackedSeq: 0 };
    this.sessions.set(open.nodeId, session);
    this.sessionEnded.delete(open.nodeId);
    this.metrics.sessionsOpened++;
    stream.onData(
      (f) => {
        if (f.type === 'netplanApplied' && this.sessions.get(open.nodeId) === session) this.planApplied(session, f.seq);
        if (f.type === 'images' && this.sessions.get(open.nodeId) === session) {
          void this.recordImages(open.nodeId, f.names).catch((err: Error) => this.logger.warn({ peer: open.nodeId }, `recording ${open.nodeId}'s images: ${err.message}`));
        }
      },
      () => {
        if (this.sessions.get(open.nodeId) !== session) return;
        this.endSession(open.nodeId, 'its agent session closed');
      },
    );
    stream.write({ type: 'session', sessionId: session.sessionId, heartbeatMs: period, ...(this.deps.fenceMs ? { fenceMs: this.deps.fenceMs } : {}), managers: this.deps.managers() });
    for (const f of this.clusterFrames()) stream.write(f);
    this.pushPlan(session);
    this.pushAssignments(session, true);
    stream.write({ type: 'node', node });
    void this.register(node, open.description).catch((err: Error) => this.logger.warn({ peer: open.nodeId }, `registering ${open.nodeId}: ${err.message}`));
  }

  /** The node is up: record its description and mark it ready. */
  private async register(node: Node, d: AgentDescription): Promise<void> {
    const host = d.clusterAddr.slice(0, d.clusterAddr.lastIndexOf(':'));
    await this.updateNode(node.ID, (cur) => ({
      ...cur,
      Description: {
        Hostname: d.hostname,
        Platform: { OS: d.os, Architecture: d.arch },
        Resources: { NanoCPUs: d.nanoCpus, MemoryBytes: d.memoryBytes },
        Engine: { EngineVersion: d.engineVersion, Labels: d.labels, Plugins: [] },
        Runtimes: d.runtimes,
        ...(d.images ? { Images: [...d.images].sort() } : {}),
      },
      Status: { State: 'ready', Addr: host },
      ShoalAddrs: { Cluster: d.clusterAddr, Gossip: d.gossipAddr },
    }));
  }

  /** The node's image store changed: its description says what it holds (the scheduler prefers holders). */
  private recordImages(nodeId: string, names: string[]): Promise<void> {
    const sorted = [...names].sort();
    return this.updateNode(nodeId, (cur) => (JSON.stringify(cur.Description.Images ?? []) === JSON.stringify(sorted) ? null : { ...cur, Description: { ...cur.Description, Images: sorted } }));
  }

  private heartbeat(nodeId: string, sessionId: string, gossipKeyId?: string, caTrustId?: string, certIssuerId?: string): { heartbeatMs: number } {
    if (!this.leading) throw this.notLeader();
    const s = this.sessions.get(nodeId);
    if (!s || s.sessionId !== sessionId) throw new DispatcherError('SESSION_INVALID', 'no such session: open a new one');
    s.lastHeartbeat = this.timers.now();
    if (gossipKeyId !== undefined) s.gossipKeyId = gossipKeyId;
    if (caTrustId !== undefined) s.caTrustId = caTrustId;
    if (certIssuerId !== undefined) s.certIssuerId = certIssuerId;
    this.metrics.heartbeats++;
    s.toldMs = this.heartbeatMs();
    return { heartbeatMs: s.toldMs };
  }

  /** The cluster's Spec.Dispatcher.HeartbeatPeriod, else the option (heartbeat-period.ts). */
  private heartbeatMs(): number {
    return Math.round(heartbeatPeriodMs(this.deps.ctx.store, this.opts.heartbeatMs));
  }

  private status(nodeId: string, sessionId: string, updates: StatusUpdate[]): Promise<{ accepted: number }> {
    if (!this.leading) return Promise.reject(this.notLeader());
    const s = this.sessions.get(nodeId);
    if (!s || s.sessionId !== sessionId) return Promise.reject(new DispatcherError('SESSION_INVALID', 'no such session: open a new one'));
    s.lastHeartbeat = this.timers.now();
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ nodeId, updates, resolve, reject });
      if (!this.flushTimer && !this.flushing) this.scheduleFlush();
    }).then((accepted) => ({ accepted }));
  }

  /**
   * At most one status commit per statusFlushMs, leading edge: a report after
   * a quiet spell is committed at once (a task that started after a node
   * died is running sooner), a burst waits for the next slot and shares it.
   */
  private scheduleFlush(): void {
    const wait = Math.max(0, this.lastFlushAt + this.opts.statusFlushMs - this.timers.now());
    this.flushTimer = this.timers.setTimeout(() => void this.flush(), wait);
  }

  private lastFlushAt = -Infinity;

  /** One Raft transaction for every report queued since the last one (≤ statusFlushMs apart). */
  private async flush(): Promise<void> {
    this.flushTimer = null;
    if (this.queue.length === 0) return;
    this.flushing = true;
    this.lastFlushAt = this.timers.now();
    const batch = this.queue;
    this.queue = [];
    const store = this.deps.ctx.store;
    const ops: StoreOp[] = [];
    const accepted: number[] = [];
    for (const p of batch) {
      let n = 0;
      for (const u of p.updates) {
        // A node reports only on its own tasks.
        const t = store.get('task', u.taskId);
        if (!t || t.NodeID !== p.nodeId) continue;
        ops.push({ op: 'patchTask', id: u.taskId, status: u.status });
        n++;
      }
      accepted.push(n);
    }
    try {
      if (ops.length > 0) {
        const r = await this.deps.ctx.commit(ops);
        if (!r.ok) throw verdictError(r);
        this.metrics.statusBatches++;
        this.metrics.statusUpdates += ops.length;
      }
      batch.forEach((p, i) => p.resolve(accepted[i]!));
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
    } finally {
      this.flushing = false;
      if (this.queue.length > 0 && !this.flushTimer) this.scheduleFlush();
    }
  }

  // ----------------------------------------------------------- liveness

  private checkLiveness(): void {
    if (!this.leading) return;
    const now = this.timers.now();
    const period = this.heartbeatMs();
    const deadline = period * this.opts.missedHeartbeats;
    for (const [nodeId, s] of this.sessions) {
      if (now - s.lastHeartbeat > Math.max(period, s.toldMs) * this.opts.missedHeartbeats) {
        // Ours first, so the stream's own close handler does not record a vaguer reason.
        this.endSession(nodeId, `its agent missed heartbeats: nothing heard for ${Math.round(now - s.lastHeartbeat)} ms`);
        s.stream.reset(`missed ${this.opts.missedHeartbeats} heartbeats`);
      }
    }
    // Ready nodes whose agent never reached this leader (ready under the previous one).
    for (const n of this.deps.ctx.store.list('node')) {
      if (n.Status.State !== 'ready' || this.sessions.has(n.ID) || this.sessionEnded.has(n.ID)) continue;
      if (now - this.leaderSince > deadline) this.endSession(n.ID, `its agent has not reached this leader for ${Math.round(now - this.leaderSince)} ms`);
    }
  }

  /** The agent is gone (for now): no new tasks go to its node; its tasks stay, under the lease. */
  private endSession(nodeId: string, why: string): void {
    this.sessions.delete(nodeId);
    this.sessionEnded.set(nodeId, this.timers.now());
    const n = this.deps.ctx.store.get('node', nodeId);
    if (!n || n.Status.State !== 'ready') return;
    this.metrics.nodesDisconnected++;
    this.logger.info({ peer: nodeId }, `node ${nodeId} disconnected: ${why}`);
    void this.updateNode(nodeId, (cur) => (cur.Status.State === 'ready' ? { ...cur, Status: { ...cur.Status, State: 'disconnected', Message: why } } : null)).catch((err: Error) => this.logger.warn({ peer: nodeId }, `marking ${nodeId} disconnected failed: ${err.message}`));
  }

  /**
   * The fencing lease decided the node's tasks are gone: commit it down (the
   * orchestrator replaces them). Idempotent while a proposal is in flight.
   * Its agent, if still connected, is made to register again.
   */
  markDown(nodeId: string, why: string): void {
    if (!this.leading || this.downInFlight.has(nodeId)) return;
    const n = this.deps.ctx.store.get('node', nodeId);
    if (!n || n.Status.State === 'down') return;
    this.downInFlight.add(nodeId);
    this.metrics.nodesMarkedDown++;
    this.logger.warn({ peer: nodeId }, `node ${nodeId} down: ${why}`);
    void this.updateNode(nodeId, (cur) => (cur.Status.State === 'down' ? null : { ...cur, Status: { ...cur.Status, State: 'down', Message: why } }))
      .then(() => {
        const s = this.sessions.get(nodeId);
        if (s) {
          this.sessions.delete(nodeId);
          this.sessionEnded.set(nodeId, this.timers.now());
          s.stream.reset('your node was declared down: register again');
        }
      })
      .catch((err: Error) => this.logger.warn({ peer: nodeId }, `marking ${nodeId} down failed: ${err.message}`))
      .finally(() => this.downInFlight.delete(nodeId));
  }

  /**
   * Changes a node as the store has it now: `change` gets the current node
   * (null: nothing to do) and is applied again to the winner of a concurrent
   * change, so what another writer set meanwhile (its status, its images, an
   * operator's spec) is never written back from an older copy.
   */
  private async updateNode(nodeId: string, change: (cur: Node) => Node | null): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const cur = this.deps.ctx.store.get('node', nodeId);
      if (!cur) return;
      const next = change(cur);
      if (!next) return;
      const r = await this.deps.ctx.commit([{ op: 'update', kind: 'node', object: next, expect: cur.Version.Index }]);
      if (r.ok) return;
      if (r.code !== 'VERSION_CONFLICT') throw verdictError(r);
    }
  }

  // --------------------------------------------------------- assignments

  /** The cluster's gossip keys, primary first (null before bootstrap). */
  private gossipKeys(): string[] | null {
    const c = this.deps.ctx.store.list('cluster')[0];
    if (!c) return null;
    const keys = c.ShoalGossipKeys ?? (c.ShoalGossipKey ? [c.ShoalGossipKey] : []);
    return keys.length > 0 ? keys : null;
  }

  /**
   * What every session is told of the cluster object, one frame per kind:
   * the gossip keys (a rotation), the roots to trust and the signer (a CA
   * rotation's steps), the removed nodes to refuse (the deny list). Sent
   * whole on open; after that a kind is sent again only when it changed.
   */
  private clusterFrames(): SessionFrame[] {
    const c = this.deps.ctx.store.list('cluster')[0];
    const frames: SessionFrame[] = [];
    const keys = this.gossipKeys();
    if (keys) frames.push({ type: 'gossipKeys', keys });
    const trust = c ? caTrustFrame(c) : null;
    if (trust) frames.push({ type: 'caTrust', ...trust });
    frames.push({ type: 'denied', nodeIds: deniedNodes(c, this.timers.wall()) });
    return frames;
  }

  /** The last frame of each kind broadcast (JSON), so an unrelated cluster change sends nothing. */
  private readonly sentClusterFrames = new Map<string, string>();

  /** What each connected node last said about the roots it trusts and the root that signed its certificate. */
  caReports(): CaReport[] {
    return [...this.sessions.values()].map((s) => ({ nodeId: s.nodeId, trustId: s.caTrustId, issuerId: s.certIssuerId }));
  }

  /** Which gossip key each connected node says it sends with (undefined: not said yet). */
  gossipKeyIds(): { nodeId: string; keyId: string | undefined }[] {
    return [...this.sessions.values()].map((s) => ({ nodeId: s.nodeId, keyId: s.gossipKeyId }));
  }

  private onChanges(changes: Change[]): void {
    if (changes.some((c) => c.kind === 'cluster')) {
      // A rotation step or a removed node: every session hears it at once.
      for (const f of this.clusterFrames()) {
        const json = JSON.stringify(f);
        if (this.sentClusterFrames.get(f.type) === json) continue;
        this.sentClusterFrames.set(f.type, json);
        for (const s of this.sessions.values()) s.stream.write(f);
      }
    }
    // Anything a plan is made of: every node's plan is rebuilt once per burst (most are unchanged and not sent).
    if (changes.some((c) => c.kind === 'task' || c.kind === 'service' || c.kind === 'network' || c.kind === 'node')) this.plansDirty = true;
    for (const c of changes) {
      if (c.kind === 'task') {
        const t = c.object as Task;
        if (t.NodeID) this.dirtyNodes.add(t.NodeID);
      } else if (c.kind === 'node') {
        const s = this.sessions.get(c.id);
        if (s && c.action !== 'delete') s.stream.write({ type: 'node', node: c.object as Node });
        if (s && c.action === 'delete') {
          this.sessions.delete(c.id);
          s.stream.reset('node removed from the cluster');
        }
      }
    }
    if ((this.dirtyNodes.size > 0 || this.plansDirty) && !this.pushScheduled) {
      // Coalesce: one increment per node per burst of transactions.
      this.pushScheduled = true;
      this.timers.setTimeout(() => {
        this.pushScheduled = false;
        // Plans first: a task's namespace is in the plan its node applies before it prepares the task,
        // and a backend leaves every load balancer with the same push that tells its node to stop it.
        if (this.plansDirty) {
          this.plansDirty = false;
          for (const s of this.sessions.values()) this.pushPlan(s);
        }
        const nodes = this.dirtyNodes;
        this.dirtyNodes = new Set();
        for (const n of nodes) {
          const s = this.sessions.get(n);
          if (s) this.pushAssignments(s, false);
        }
      }, 0);
    }
  }

  private plansDirty = false;

  /** The node's network plan (overlay-net/plan.ts), sent whole when it differs from the last one sent. */
  private pushPlan(s: Session): void {
    const store = this.deps.ctx.store;
    const plan = buildNodePlan(s.nodeId, { nodes: store.list('node'), networks: store.list('network'), services: store.list('service'), tasks: store.list('task') });
    const json = JSON.stringify(plan);
    // Sent on every new session even when empty: a node restarted after a crash still holds what its
    // old plan built (namespaces, links, rules), and only a plan tells it what to remove.
    if (s.sentPlan === json) return;
    s.sentPlan = json;
    const seq = ++s.planSeq;
    s.plans.push({ seq, backends: new Set(plan.services.flatMap((x) => x.backends.map((b) => b.taskId))) });
    try {
      s.stream.write({ type: 'netplan', seq, plan });
    } catch {
      // the session is closing; the next one is sent its plan on open
    }
  }

  /** The node's kernel matches plan `seq` (and so every earlier one): those before it are gone from it. */
  private planApplied(s: Session, seq: number): void {
    if (!s.plans.some((p) => p.seq === seq)) return;
    s.plans = s.plans.filter((p) => p.seq >= seq);
    s.ackedSeq = Math.max(s.ackedSeq, seq);
    this.releaseHolds();
  }

  /** Stops held back for draining (task → when the hold began), re-checked on every plan applied. */
  private readonly drainHolds = new Map<string, { since: number; nodeId: string }>();

  /** Some node may still send this task new connections. */
  private inSomeBalancer(taskId: string): boolean {
    for (const s of this.sessions.values()) for (const p of s.plans) if (p.backends.has(taskId)) return true;
    return false;
  }

  /**
   * Connection draining: the stop of a running task that is a load-balancer
   * backend reaches its node only once every node has applied a plan without
   * it (or after lbDrainHoldMs, for a node that does not answer). The plan
   * that drops it was pushed first, in the same tick (onChanges).
   */
  private holdStop(t: Task): boolean {
    if (stateRank(t.DesiredState) < stateRank('shutdown') || t.Status.State !== 'running') return false;
    return this.hold(t, () => this.inSomeBalancer(t.ID));
  }

  /**
   * A new task on a network (a replacement, a scale-up) reaches its node
   * only once every node has applied the plans sent so far: the decision
   * that made it — a node declared down, a task stopped — has then left every
   * load balancer, so no balancer sends to the dead copy once the new one runs.
   * It costs one plan apply (milliseconds), capped by lbDrainHoldMs.
   */
  private holdStart(t: Task): boolean {
    if ((t.NetworksAttachments?.length ?? 0) === 0 || stateRank(t.DesiredState) > stateRank('running')) return false;
    return this.hold(t, () => [...this.sessions.values()].some((s) => s.planSeq > s.ackedSeq));
  }

  private hold(t: Task, needed: () => boolean): boolean {
    const held = this.drainHolds.get(t.ID);
    if (!needed()) {
      this.drainHolds.delete(t.ID);
      return false;
    }
    const now = this.timers.now();
    if (!held) {
      this.drainHolds.set(t.ID, { since: now, nodeId: t.NodeID });
      // The cap: re-checked when it runs out even if no node answers.
      this.timers.setTimeout(() => this.releaseHolds(), this.opts.lbDrainHoldMs);
      return true;
    }
    if (now - held.since < this.opts.lbDrainHoldMs) return true;
    this.logger.warn({ task: t.ID, service: t.ServiceID }, `task ${t.ID}: sent though some node has not confirmed its network plan after ${this.opts.lbDrainHoldMs} ms`);
    this.drainHolds.delete(t.ID);
    return false;
  }

  private releaseHolds(): void {
    const nodes = new Set([...this.drainHolds.values()].map((h) => h.nodeId));
    for (const n of nodes) {
      const s = this.sessions.get(n);
      if (s) this.pushAssignments(s, false);
      else for (const [id, h] of this.drainHolds) if (h.nodeId === n) this.drainHolds.delete(id);
    }
  }

  /**
   * What an agent must know: every task on its node that the scheduler has
   * assigned (SwarmKit's rule: a global task is created on its node, but may
   * still be left pending there for want of resources) and that has not
   * reached a terminal state.
   */
  private pushAssignments(s: Session, full: boolean): void {
    const current = this.deps.ctx.store.tasksOnNode(s.nodeId).filter((t) => stateRank(t.Status.State) >= ASSIGNED && !isTerminal(t.Status.State));
    const upsert: Task[] = [];
    const seen = new Set<string>();
    for (const t of current) {
      seen.add(t.ID);
      // Sent once every balancer let the old copy go (a stop), or has caught up with the plans (a new task).
      const last = s.sent.get(t.ID);
      if (!full && last?.Version.Index !== t.Version.Index && (last ? this.holdStop(t) : this.holdStart(t))) continue;
      // The node's own status reports, committed, are not sent back to it (SwarmKit's rule): it knows
      // them, and 300 tasks starting made 1,500 echoes for the agent to decode and step through. Only
      // a change of anything else (desired state, placement, orchestration) is news; a full set sends all.
      if (full || (last?.Version.Index !== t.Version.Index && !(last && statusOnly(last, t)))) upsert.push(t);
      s.sent.set(t.ID, t);
    }
    const removed: string[] = [];
    for (const id of [...s.sent.keys()]) {
      if (!seen.has(id)) {
        s.sent.delete(id);
        removed.push(id);
      }
    }
    if (!full && upsert.length === 0 && removed.length === 0) return;
    try {
      this.pushSecretData(s, full, current, upsert);
      s.stream.write({ type: 'assignments', full, tasks: upsert, removed });
    } catch {
      // the session is closing; the agent will reconnect and get a full set
    }
  }

  /**
   * Before the assignments that need it: the data of the secrets and configs
   * the node's new tasks use and it does not hold yet. The agent keeps data
   * only for the tasks it was sent, so what the node holds is re-derived from
   * those tasks after every push (and everything is re-sent on a full set).
   */
  private pushSecretData(s: Session, full: boolean, current: Task[], upsert: Task[]): void {
    if (full) s.sentData.clear();
    const missing = new Set<string>();
    for (const t of upsert) for (const k of dataKeysOf(t)) if (!s.sentData.has(k)) missing.add(k);
    if (missing.size > 0) {
      const items = openItems(this.deps.ctx.store, this.deps.ctx.dataKey?.() ?? null, missing, this.logger.child({ peer: s.nodeId }));
      for (const items1 of chunkItems(items)) s.stream.write({ type: 'secrets', items: items1 });
      for (const it of items) s.sentData.add(`${it.kind}/${it.id}`);
    }
    const held = new Set(current.flatMap(dataKeysOf));
    for (const k of s.sentData) if (!held.has(k)) s.sentData.delete(k);
  }

}

const ASSIGNED = stateRank('assigned');

/** `b` differs from `a` only in what its node reported (Status) and the store's stamp of that (Version, UpdatedAt). */
function statusOnly(a: Task, b: Task): boolean {
  const keys = Object.keys(b) as (keyof Task)[];
  if (keys.length !== Object.keys(a).length) return false;
  // The store copies a task on every patch (spread): what a status report did not touch is the same object.
  return keys.every((k) => k === 'Status' || k === 'Version' || k === 'UpdatedAt' || a[k] === b[k]);
}
