import { randomBytes } from 'node:crypto';
import type { Stream, Transport } from '../../wire/interface.js';
import type { ManagerContext } from '../interface.js';
import type { Change, StoreOp } from '../store/commands.js';
import { isTerminal, type Node, type Task } from '../store/types.js';
import { Heartbeat, SessionOpen, StatusReport, type AgentDescription, type SessionFrame, type StatusUpdate } from './messages.js';

export interface DispatcherOptions {
  /** Agents heartbeat this often. 1 s (Swarm: 5 s), so a dead node is noticed in ~3 s. */
  heartbeatMs: number;
  /**
   * Agents fence their tasks this long after their node process dies (the
   * task supervisors kill a task whose agent lease went stale). A node is
   * never declared down sooner than its last contact + fenceMs + a margin,
   * so a replacement never starts while the old copy may still run.
   */
  fenceMs: number;
  /** A node is down after this many missed heartbeats. */
  missedHeartbeats: number;
  /** Status reports are batched into one Raft transaction at most this often. */
  statusFlushMs: number;
}

export const defaultDispatcherOptions: DispatcherOptions = { heartbeatMs: 1_000, fenceMs: 1_000, missedHeartbeats: 3, statusFlushMs: 100 };

/**
 * Margin between an agent's fence deadline and our down decision: the
 * supervisors check the lease every 250 ms, plus slack for a loaded machine.
 */
const FENCE_MARGIN_MS = 400;

export interface DispatcherDeps {
  transport: Transport;
  ctx: ManagerContext;
  /** Managers' cluster addresses, for agents to fail over to. */
  managers(): { nodeId: string; addr: string }[];
  options?: Partial<DispatcherOptions>;
  log?: (msg: string) => void;
}

export interface DispatcherMetrics {
  sessionsOpened: number;
  sessionsRefused: number;
  heartbeats: number;
  statusUpdates: number;
  statusBatches: number;
  nodesMarkedDown: number;
}

interface Session {
  nodeId: string;
  sessionId: string;
  stream: Stream<SessionFrame>;
  lastHeartbeat: number;
  /** taskId → Version.Index last sent. */
  sent: Map<string, number>;
}

interface Pending {
  nodeId: string;
  updates: StatusUpdate[];
  resolve: (n: number) => void;
  reject: (e: Error) => void;
}

export class DispatcherError extends Error {
  override readonly name = 'DispatcherError';
  constructor(
    readonly code: 'NOT_LEADER' | 'SESSION_INVALID' | 'UNKNOWN_NODE',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Worker sessions, on the leader. Registers handlers on every manager;
 * only the leader serves (`startLeading`), others refuse with NOT_LEADER so
 * agents move on. Node liveness: 3 missed heartbeats, or gossip saying dead
 * (`nodeDead`), whichever comes first.
 */
export class Dispatcher {
  readonly metrics: DispatcherMetrics = { sessionsOpened: 0, sessionsRefused: 0, heartbeats: 0, statusUpdates: 0, statusBatches: 0, nodesMarkedDown: 0 };
  private readonly opts: DispatcherOptions;
  private leading = false;
  private leaderSince = 0;
  private readonly sessions = new Map<string, Session>();
  private queue: Pending[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private flushing = false;
  private checkTimer: NodeJS.Timeout | null = null;
  private unwatch: (() => void) | null = null;
  private dirtyNodes = new Set<string>();
  private pushScheduled = false;
  /** Nodes we already proposed down, to avoid repeating the write every check. */
  private readonly markedDown = new Set<string>();
  /** Last time each node was heard from (session open, heartbeat, report), surviving the session. */
  private readonly lastSeen = new Map<string, number>();
  /** Nodes to declare down at a time (session lost, gossip death), unless they come back first. */
  private readonly downAt = new Map<string, { at: number; why: string }>();

  constructor(private readonly deps: DispatcherDeps) {
    this.opts = { ...defaultDispatcherOptions, ...deps.options };
    const t = deps.transport;
    t.onStream(SessionOpen, (stream, open) => this.openSession(stream as Stream<SessionFrame>, open as SessionFrame));
    t.onRequest(Heartbeat, (b) => this.heartbeat(b.nodeId, b.sessionId));
    t.onRequest(StatusReport, (b) => this.status(b.nodeId, b.sessionId, b.updates as StatusUpdate[]));
  }

  startLeading(): void {
    if (this.leading) return;
    this.leading = true;
    this.leaderSince = Date.now();
    this.unwatch = this.deps.ctx.store.watch((changes) => this.onChanges(changes));
    this.checkTimer = setInterval(() => this.checkLiveness(), Math.max(50, Math.min(100, this.opts.heartbeatMs / 4)));
    this.checkTimer.unref();
  }

  /** Leadership lost: drop every session so agents reconnect to the new leader. */
  stopLeading(): void {
    if (!this.leading) return;
    this.leading = false;
    this.unwatch?.();
    this.unwatch = null;
    if (this.checkTimer) clearInterval(this.checkTimer);
    for (const s of this.sessions.values()) s.stream.reset('NOT_LEADER: leadership moved');
    this.sessions.clear();
    for (const p of this.queue) p.reject(new DispatcherError('NOT_LEADER', 'leadership moved; report to the new leader'));
    this.queue = [];
    this.markedDown.clear();
    this.lastSeen.clear();
    this.downAt.clear();
  }

  /** Gossip declared a node dead: don't wait for its heartbeats to lapse. */
  nodeDead(nodeId: string): void {
    if (!this.leading) return;
    const s = this.sessions.get(nodeId);
    if (s) {
      this.sessions.delete(nodeId);
      s.stream.reset('node declared dead');
    }
    this.scheduleDown(nodeId, 'node declared dead by gossip');
  }

  /**
   * Declares `nodeId` down once its tasks are surely fenced: from when we
   * last knew it alive (its session's close, or its last heartbeat) + fence
   * + margin. Without a session close the node is silent but may be alive (a
   * partition: its tasks run on, as in Swarm — the documented window) or
   * gone with its machine (its tasks died with it).
   */
  private scheduleDown(nodeId: string, why: string): void {
    const seen = this.lastSeen.get(nodeId) ?? Date.now();
    const at = Math.max(Date.now(), seen + this.opts.fenceMs + FENCE_MARGIN_MS);
    const cur = this.downAt.get(nodeId);
    if (!cur || at < cur.at) this.downAt.set(nodeId, { at, why });
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

  private refuse(stream: Stream<SessionFrame>, why: string): void {
    this.metrics.sessionsRefused++;
    stream.reset(why);
  }

  private notLeaderMessage(): string {
    const st = this.deps.ctx.status();
    const leader = st.managers.find((m) => m.nodeId === st.leaderId);
    return `NOT_LEADER${leader ? ` ${leader.nodeId}@${leader.addr}` : ''}`;
  }

  private openSession(stream: Stream<SessionFrame>, open: SessionFrame): void {
    if (open.type !== 'open') return this.refuse(stream, 'expected an open frame');
    if (!this.leading) return this.refuse(stream, this.notLeaderMessage());
    const store = this.deps.ctx.store;
    const node = store.get('node', open.nodeId);
    if (!node) return this.refuse(stream, `UNKNOWN_NODE: node ${open.nodeId} is not part of this cluster (join it with a token first)`);
    const old = this.sessions.get(open.nodeId);
    if (old) old.stream.reset('replaced by a newer session');
    const session: Session = { nodeId: open.nodeId, sessionId: randomBytes(8).toString('hex'), stream, lastHeartbeat: Date.now(), sent: new Map() };
    this.sessions.set(open.nodeId, session);
    this.lastSeen.set(open.nodeId, session.lastHeartbeat);
    this.markedDown.delete(open.nodeId);
    this.downAt.delete(open.nodeId);
    this.metrics.sessionsOpened++;
    stream.onData(
      () => {},
      () => {
        if (this.sessions.get(open.nodeId) !== session) return;
        this.sessions.delete(open.nodeId);
        // A session's connection closes at once when the node process dies:
        // the earliest sign of a crash, and the best estimate of WHEN it
        // died. The agent refreshed its lease until then, so its tasks are
        // fenced by close time + fence + check interval — not by its last
        // heartbeat + fence, which can be a whole heartbeat earlier.
        // It was alive until now: later down decisions (gossip) count from here too.
        this.lastSeen.set(open.nodeId, Date.now());
        this.scheduleDown(open.nodeId, 'session lost and not re-established');
      },
    );
    stream.write({ type: 'session', sessionId: session.sessionId, heartbeatMs: this.opts.heartbeatMs, fenceMs: this.opts.fenceMs, managers: this.deps.managers() });
    this.pushAssignments(session, true);
    stream.write({ type: 'node', node });
    void this.register(node, open.description).catch((err: Error) => this.log(`registering ${open.nodeId}: ${err.message}`));
  }

  /** The node is up: record its description and mark it ready. */
  private async register(node: Node, d: AgentDescription): Promise<void> {
    const host = d.clusterAddr.slice(0, d.clusterAddr.lastIndexOf(':'));
    const next: Node = {
      ...node,
      Description: {
        Hostname: d.hostname,
        Platform: { OS: d.os, Architecture: d.arch },
        Resources: { NanoCPUs: d.nanoCpus, MemoryBytes: d.memoryBytes },
        Engine: { EngineVersion: d.engineVersion, Labels: d.labels, Plugins: [] },
        Runtimes: d.runtimes,
      },
      Status: { State: 'ready', Addr: host },
      ShoalAddrs: { Cluster: d.clusterAddr, Gossip: d.gossipAddr },
    };
    await this.commitNode(next);
  }

  private heartbeat(nodeId: string, sessionId: string): { heartbeatMs: number } {
    if (!this.leading) throw new DispatcherError('NOT_LEADER', this.notLeaderMessage());
    const s = this.sessions.get(nodeId);
    if (!s || s.sessionId !== sessionId) throw new DispatcherError('SESSION_INVALID', 'no such session: open a new one');
    s.lastHeartbeat = Date.now();
    this.lastSeen.set(nodeId, s.lastHeartbeat);
    this.metrics.heartbeats++;
    return { heartbeatMs: this.opts.heartbeatMs };
  }

  private status(nodeId: string, sessionId: string, updates: StatusUpdate[]): Promise<{ accepted: number }> {
    if (!this.leading) return Promise.reject(new DispatcherError('NOT_LEADER', this.notLeaderMessage()));
    const s = this.sessions.get(nodeId);
    if (!s || s.sessionId !== sessionId) return Promise.reject(new DispatcherError('SESSION_INVALID', 'no such session: open a new one'));
    s.lastHeartbeat = Date.now();
    return new Promise<number>((resolve, reject) => {
      this.queue.push({ nodeId, updates, resolve, reject });
      if (!this.flushTimer && !this.flushing) this.flushTimer = setTimeout(() => void this.flush(), this.opts.statusFlushMs);
    }).then((accepted) => ({ accepted }));
  }

  /** One Raft transaction for every report queued in the last ≤100 ms. */
  private async flush(): Promise<void> {
    this.flushTimer = null;
    if (this.queue.length === 0) return;
    this.flushing = true;
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
        if (!r.ok) throw new Error(`${r.code}: ${r.message}`);
        this.metrics.statusBatches++;
        this.metrics.statusUpdates += ops.length;
      }
      batch.forEach((p, i) => p.resolve(accepted[i]!));
    } catch (err) {
      for (const p of batch) p.reject(err as Error);
    } finally {
      this.flushing = false;
      if (this.queue.length > 0 && !this.flushTimer) this.flushTimer = setTimeout(() => void this.flush(), this.opts.statusFlushMs);
    }
  }

  // ----------------------------------------------------------- liveness

  private checkLiveness(): void {
    if (!this.leading) return;
    const now = Date.now();
    const deadline = this.opts.heartbeatMs * this.opts.missedHeartbeats;
    for (const [nodeId, s] of this.sessions) {
      if (now - s.lastHeartbeat > deadline) {
        this.sessions.delete(nodeId);
        s.stream.reset(`missed ${this.opts.missedHeartbeats} heartbeats`);
        void this.markDown(nodeId, `heartbeat failure: nothing heard for ${now - s.lastHeartbeat} ms`);
      }
    }
    for (const [nodeId, d] of this.downAt) {
      if (this.sessions.has(nodeId)) {
        this.downAt.delete(nodeId);
        continue;
      }
      if (now >= d.at) {
        this.downAt.delete(nodeId);
        void this.markDown(nodeId, d.why);
      }
    }
    // Ready nodes without a session: one whose session closed (counted from
    // when it was last heard), or one that was ready under the previous
    // leader and never reached us (counted from our takeover).
    for (const n of this.deps.ctx.store.list('node')) {
      if (n.Status.State !== 'ready' || this.sessions.has(n.ID) || this.markedDown.has(n.ID)) continue;
      const since = this.lastSeen.get(n.ID) ?? this.leaderSince;
      if (now - since > deadline) void this.markDown(n.ID, `heartbeat failure: nothing heard for ${now - since} ms`);
    }
  }

  private async markDown(nodeId: string, why: string): Promise<void> {
    const n = this.deps.ctx.store.get('node', nodeId);
    if (!n || n.Status.State === 'down' || this.markedDown.has(nodeId)) return;
    this.markedDown.add(nodeId);
    this.metrics.nodesMarkedDown++;
    this.log(`node ${nodeId} down: ${why}`);
    try {
      await this.commitNode({ ...n, Status: { ...n.Status, State: 'down', Message: why } });
    } catch (err) {
      this.markedDown.delete(nodeId);
      this.log(`marking ${nodeId} down failed: ${(err as Error).message}`);
    }
  }

  /** Writes a node's status, retrying once on a concurrent change. */
  private async commitNode(next: Node): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const cur = this.deps.ctx.store.get('node', next.ID);
      if (!cur) return;
      const merged: Node = attempt === 0 ? next : { ...cur, Description: next.Description, Status: next.Status, ...(next.ShoalAddrs ? { ShoalAddrs: next.ShoalAddrs } : {}) };
      const r = await this.deps.ctx.commit([{ op: 'update', kind: 'node', object: merged, expect: cur.Version.Index }]);
      if (r.ok) return;
      if (r.code !== 'VERSION_CONFLICT') throw new Error(`${r.code}: ${r.message}`);
    }
  }

  // --------------------------------------------------------- assignments

  private onChanges(changes: Change[]): void {
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
    if (this.dirtyNodes.size > 0 && !this.pushScheduled) {
      // Coalesce: one increment per node per burst of transactions.
      this.pushScheduled = true;
      setImmediate(() => {
        this.pushScheduled = false;
        const nodes = this.dirtyNodes;
        this.dirtyNodes = new Set();
        for (const n of nodes) {
          const s = this.sessions.get(n);
          if (s) this.pushAssignments(s, false);
        }
      });
    }
  }

  /** What an agent must know: every task on its node that has not reached a terminal state. */
  private pushAssignments(s: Session, full: boolean): void {
    const current = this.deps.ctx.store.tasksOnNode(s.nodeId).filter((t) => !isTerminal(t.Status.State));
    const upsert: Task[] = [];
    const seen = new Set<string>();
    for (const t of current) {
      seen.add(t.ID);
      if (full || s.sent.get(t.ID) !== t.Version.Index) upsert.push(t);
      s.sent.set(t.ID, t.Version.Index);
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
      s.stream.write({ type: 'assignments', full, tasks: upsert, removed });
    } catch {
      // the session is closing; the agent will reconnect and get a full set
    }
  }

  private log(msg: string): void {
    this.deps.log?.(`dispatcher: ${msg}`);
  }
}
