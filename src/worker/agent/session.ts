import type { NodePlan } from '../../overlay-net/interface.js';
import { Histogram, MS_BUCKETS } from '../../util/histogram.js';
import { leaderHintOf } from '../../util/errors.js';
import type { Connection, Stream, Transport } from '../../wire/interface.js';
import { isWireError } from '../../wire/errors.js';
import { Heartbeat, SessionOpen, StatusReport, type AgentDescription, type SecretItem, type SessionFrame, type StatusUpdate } from '../../protocol/dispatcher.js';
import { stateRank, type Node, type Task } from '../../model/index.js';
import { Backoff } from '../../util/backoff.js';
import { defaultBackoff, type BackoffOptions } from '../../wire/options.js';
import { systemRng, type Rng } from '../../util/rng.js';
import { sleepOn, systemTimers, type TimerHandle, type Timers } from '../../util/timers.js';
import { componentLogger, type Logger } from '../../util/log/interface.js';

export interface SessionClientOptions {
  transport: Transport;
  nodeId: string;
  description: AgentDescription;
  /** Cluster addresses of managers to try; the session keeps this list fresh. */
  managers: string[];
  /**
   * More candidate managers, asked before every connection attempt (the
   * node daemon passes the alive managers of the gossip member list): they
   * are merged into the known ones, so a worker whose known managers are all
   * gone still finds a manager that joined after its last session began.
   */
  discoverManagers?: () => string[];
  /** Reconnect back-off after failures (default: the wire's, capped at 1 s); NOT_LEADER redirects retry at once. */
  backoff?: Partial<BackoffOptions>;
  /** Jitter source for the back-off (default: systemRng()). */
  rng?: Rng;
  /** Clocks and timers (default: the machine's); a simulation passes its own. */
  timers?: Timers;
  /** For tests: how the session waits between attempts (default: a timer of `timers`). */
  sleep?: (ms: number) => Promise<void>;
  onAssignments(full: boolean, tasks: Task[], removed: string[]): void;
  /** Secret and config data for the assignments that follow (kept in memory by the agent). */
  onSecrets?(items: SecretItem[]): void;
  onNode?(node: Node): void;
  /** The cluster's gossip keys, primary first (on every session and rotation). */
  onGossipKeys?(keys: string[]): void;
  /** Which gossip key this node sends with now, told to the leader in heartbeats. */
  gossipKeyId?(): string | undefined;
  /** The nodes removed from the cluster, which this node must refuse (workers hold no store). */
  onDenied?(nodeIds: string[]): void;
  /** The node's network plan (overlay-net), whole, whenever it changes; call `applied` once the kernel matches it. */
  onNetPlan?(plan: NodePlan, applied: () => void): void;
  /** The roots to trust and the root that signs node certificates now (a CA rotation's steps). */
  onCaTrust?(roots: string[], issuer: string): void;
  /** What the heartbeats say about the roots the node trusts and the root of its certificate (ca-rotation.ts). */
  caReport?(): { caTrustId?: string; certIssuerId?: string };
  onConnected?(managerAddr: string): void;
  /** The managers' fencing interval (sent with the session). */
  onFence?(fenceMs: number): void;
  /** Records carry component=session. */
  log?: Logger;
}

/** The reconnect back-off: the wire's jittered one, capped at 1 s so a failover is found fast. */
export const sessionBackoff: BackoffOptions = { ...defaultBackoff, maxMs: 1_000 };

/**
 * The agent's side of the dispatcher protocol: finds the leader (following
 * NOT_LEADER redirects, failing over across the known managers), keeps the
 * session alive with heartbeats, and delivers status reports — each one
 * retried until the leader acknowledges it as committed, so a failover
 * loses none.
 */
export class SessionClient {
  /** Heartbeat round trips to the leader's dispatcher, ms; and heartbeats that failed (the session ends on one). */
  readonly heartbeatRttMs = new Histogram(MS_BUCKETS);
  heartbeatFailures = 0;
  private stopped = false;
  private managers: string[];
  private next = 0;
  private hint: string | null = null;
  private conn: Connection | null = null;
  /** The session stream while one is open (for frames the agent sends unasked). */
  private stream: Stream<SessionFrame> | null = null;
  /** The images last reported (reportImages), sent with every new session's description too. */
  private images: string[] | undefined;
  private sessionId: string | null = null;
  /** taskId → newest unacknowledged status. */
  private readonly pending = new Map<string, StatusUpdate>();
  private sending = false;
  private wake: (() => void) | null = null;
  private readonly backoff: Backoff;
  private readonly timers: Timers;
  connectedTo: string | null = null;

  private readonly logger: Logger;

  constructor(private readonly opts: SessionClientOptions) {
    this.logger = componentLogger(opts.log, 'session');
    this.timers = opts.timers ?? systemTimers;
    this.managers = [...new Set(opts.managers)];
    this.backoff = new Backoff({ ...sessionBackoff, ...opts.backoff }, opts.rng ?? systemRng());
  }

  /** The managers this session will try, in order (known ones first, then discovered ones). */
  get knownManagers(): readonly string[] {
    return this.managers;
  }

  start(): void {
    void this.loop();
  }

  /** Queues reports; a newer report for the same task supersedes an older unsent one. */
  report(updates: StatusUpdate[]): void {
    for (const u of updates) {
      const prev = this.pending.get(u.taskId);
      if (!prev || stateRank(u.status.State) >= stateRank(prev.status.State)) this.pending.set(u.taskId, u);
    }
    void this.flush();
  }

  get unacknowledged(): number {
    return this.pending.size;
  }

  stop(): void {
    this.stopped = true;
    this.conn?.close('agent stopping');
    this.wake?.();
  }

  /** Adds the discovered managers not known yet (after the known ones, so the round-robin order stays stable). */
  private discover(): void {
    if (!this.opts.discoverManagers) return;
    let found: string[];
    try {
      found = this.opts.discoverManagers();
    } catch (err) {
      this.logger.warn(`manager discovery failed: ${(err as Error).message}`);
      return;
    }
    const fresh = found.filter((a) => !this.managers.includes(a));
    if (fresh.length === 0) return;
    this.managers = [...this.managers, ...new Set(fresh)];
    this.logger.info(`discovered manager${fresh.length > 1 ? 's' : ''} ${fresh.join(', ')}`);
  }

  private target(): string | null {
    if (this.hint) {
      const h = this.hint;
      this.hint = null;
      return h;
    }
    this.discover();
    if (this.managers.length === 0) return null;
    const t = this.managers[this.next % this.managers.length]!;
    this.next++;
    return t;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const addr = this.target();
      if (addr === null) {
        this.logger.warn('no manager known yet');
      } else {
        try {
          await this.runSession(addr);
        } catch (err) {
          // A follower's refusal names the leader as data (util/errors.ts): go there next, at once.
          const leader = leaderHintOf(err);
          if (leader?.addr && leader.addr !== addr) this.hint = leader.addr;
          this.logger.info({ manager: addr }, `session with ${addr} ended: ${(err as Error).message}`);
        }
      }
      this.sessionId = null;
      this.connectedTo = null;
      if (this.stopped) return;
      // Redirects retry at once; anything else backs off with jitter, so the
      // workers of a failed manager do not all reconnect in the same instant.
      await (this.opts.sleep ?? ((ms: number) => sleepOn(this.timers, ms)))(this.hint ? 0 : this.backoff.next());
    }
  }

  /**
   * The node's image store holds `names` now: the leader records them in the
   * node's description (the scheduler prefers nodes that have a task's
   * image). Sent at once on an open session, and with every later one.
   */
  reportImages(names: string[]): void {
    this.images = names;
    try {
      this.stream?.write({ type: 'images', names });
    } catch {
      // the session just closed: the next one carries them in its description
    }
  }

  private async runSession(addr: string): Promise<void> {
    const conn = await this.opts.transport.connect(addr, { timeoutMs: 2_000 });
    this.conn = conn;
    try {
      const description = this.images ? { ...this.opts.description, images: this.images } : this.opts.description;
      const stream = conn.openStream(SessionOpen, { type: 'open', nodeId: this.opts.nodeId, description }) as Stream<SessionFrame>;
      this.stream = stream;
      let timer: TimerHandle | null = null;
      let over = false;
      // Heartbeat every period the dispatcher names: in the session frame, and again in each
      // answer (the cluster's period can change: `swarm update --dispatcher-heartbeat`).
      const beatEvery = (ms: number): void => {
        if (over) return;
        this.timers.clear(timer);
        timer = this.timers.setInterval(() => void this.heartbeat(conn, ms, beatEvery), ms);
      };
      const done = new Promise<void>((resolve, reject) => {
        stream.onData(
          (f) => {
            switch (f.type) {
              case 'session':
                this.sessionId = f.sessionId;
                // A session was established: the next loss starts the back-off over.
                this.backoff.reset();
                this.connectedTo = addr;
                if (f.managers.length > 0) this.managers = [...new Set([...f.managers.map((m) => m.addr), ...this.managers])];
                beatEvery(f.heartbeatMs);
                this.opts.onConnected?.(addr);
                if (f.fenceMs !== undefined) this.opts.onFence?.(f.fenceMs);
                void this.flush();
                break;
              case 'assignments':
                this.opts.onAssignments(f.full, f.tasks, f.removed);
                break;
              case 'node':
                this.opts.onNode?.(f.node);
                break;
              case 'gossipKeys':
                this.opts.onGossipKeys?.(f.keys);
                break;
              case 'secrets':
                this.opts.onSecrets?.(f.items);
                break;
              case 'caTrust':
                this.opts.onCaTrust?.(f.roots, f.issuer);
                break;
              case 'denied':
                this.opts.onDenied?.(f.nodeIds);
                break;
              case 'netplan': {
                const seq = f.seq;
                const applied = () => {
                  try {
                    stream.write({ type: 'netplanApplied', seq });
                  } catch {
                    // the session closed: the next one is sent its plan again
                  }
                };
                if (this.opts.onNetPlan) this.opts.onNetPlan(f.plan, applied);
                else applied();
                break;
              }
            }
          },
          (err) => (err ? reject(err) : resolve()),
        );
      });
      this.wake = () => stream.reset('agent stopping');
      try {
        await done;
      } finally {
        over = true;
        this.timers.clear(timer);
      }
    } finally {
      this.conn = null;
      this.stream = null;
      conn.close('session over');
    }
  }

  private async heartbeat(conn: Connection, periodMs: number, onPeriod: (ms: number) => void): Promise<void> {
    if (!this.sessionId) return;
    try {
      const keyId = this.opts.gossipKeyId?.();
      const ca = this.opts.caReport?.() ?? {};
      // At least 2 s: a short period set for quick failure detection must not turn a loaded
      // manager's slow answer into a lost session.
      const t0 = this.timers.now();
      const r = await conn.request(Heartbeat, { nodeId: this.opts.nodeId, sessionId: this.sessionId, ...(keyId ? { gossipKeyId: keyId } : {}), ...ca }, { timeoutMs: Math.max(2_000, periodMs * 2) });
      this.heartbeatRttMs.observe(this.timers.now() - t0);
      if (r.heartbeatMs !== periodMs) onPeriod(r.heartbeatMs);
    } catch (err) {
      this.heartbeatFailures++;
      if (isWireError(err, 'REMOTE_ERROR') || isWireError(err, 'TIMEOUT')) {
        this.logger.warn(`heartbeat failed: ${(err as Error).message}`);
        conn.close('heartbeat failed');
      }
    }
  }

  private async flush(): Promise<void> {
    if (this.sending || this.pending.size === 0 || !this.conn || !this.sessionId) return;
    this.sending = true;
    const conn = this.conn;
    const batch = [...this.pending.values()];
    let ok = false;
    try {
      await conn.request(StatusReport, { nodeId: this.opts.nodeId, sessionId: this.sessionId, updates: batch }, { timeoutMs: 10_000 });
      // Acknowledged = committed. Drop what we sent unless a newer report replaced it meanwhile.
      for (const u of batch) if (this.pending.get(u.taskId) === u) this.pending.delete(u.taskId);
      ok = true;
    } catch (err) {
      this.logger.warn(`status report not acknowledged (${(err as Error).message}); will resend`);
    } finally {
      this.sending = false;
    }
    if (this.pending.size === 0 || this.conn !== conn || !this.sessionId) return;
    // More arrived while this batch was in flight: send it now (the dispatcher paces the commits);
    // after a failure, not in a tight loop.
    this.timers.setTimeout(() => void this.flush(), ok ? 0 : 100);
  }

}
