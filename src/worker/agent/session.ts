import type { Connection, Stream, Transport } from '../../wire/interface.js';
import { isWireError } from '../../wire/errors.js';
import { Heartbeat, SessionOpen, StatusReport, type AgentDescription, type SessionFrame, type StatusUpdate } from '../../manager/dispatcher/messages.js';
import { stateRank, type Node, type Task } from '../../manager/store/types.js';

export interface SessionClientOptions {
  transport: Transport;
  nodeId: string;
  description: AgentDescription;
  /** Cluster addresses of managers to try; the session keeps this list fresh. */
  managers: string[];
  onAssignments(full: boolean, tasks: Task[], removed: string[]): void;
  onNode?(node: Node): void;
  onConnected?(managerAddr: string): void;
  /** The managers' fencing interval (sent with the session). */
  onFence?(fenceMs: number): void;
  log?: (msg: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/**
 * The agent's side of the dispatcher protocol: finds the leader (following
 * NOT_LEADER redirects, failing over across the known managers), keeps the
 * session alive with heartbeats, and delivers status reports — each one
 * retried until the leader acknowledges it as committed, so a failover
 * loses none.
 */
export class SessionClient {
  private stopped = false;
  private managers: string[];
  private next = 0;
  private hint: string | null = null;
  private conn: Connection | null = null;
  private sessionId: string | null = null;
  /** taskId → newest unacknowledged status. */
  private readonly pending = new Map<string, StatusUpdate>();
  private sending = false;
  private wake: (() => void) | null = null;
  connectedTo: string | null = null;

  constructor(private readonly opts: SessionClientOptions) {
    this.managers = [...opts.managers];
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

  private target(): string {
    if (this.hint) {
      const h = this.hint;
      this.hint = null;
      return h;
    }
    const t = this.managers[this.next % this.managers.length]!;
    this.next++;
    return t;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const addr = this.target();
      try {
        await this.runSession(addr);
        failures = 0;
      } catch (err) {
        const msg = (err as Error).message;
        const m = /NOT_LEADER (\S+)@(\S+)/.exec(msg);
        if (m) this.hint = m[2]!;
        else failures++;
        this.log(`session with ${addr} ended: ${msg}`);
      }
      this.sessionId = null;
      this.connectedTo = null;
      if (this.stopped) return;
      // Redirects retry at once; a string of failures backs off (capped at 1 s).
      await sleep(this.hint ? 0 : Math.min(1_000, 50 * 2 ** Math.min(failures, 5)));
    }
  }

  private async runSession(addr: string): Promise<void> {
    const conn = await this.opts.transport.connect(addr, { timeoutMs: 2_000 });
    this.conn = conn;
    try {
      const stream = conn.openStream(SessionOpen, { type: 'open', nodeId: this.opts.nodeId, description: this.opts.description }) as Stream<SessionFrame>;
      let heartbeatMs = 1_000;
      let timer: NodeJS.Timeout | null = null;
      const done = new Promise<void>((resolve, reject) => {
        stream.onData(
          (f) => {
            switch (f.type) {
              case 'session':
                this.sessionId = f.sessionId;
                heartbeatMs = f.heartbeatMs;
                this.connectedTo = addr;
                if (f.managers.length > 0) this.managers = [...new Set([...f.managers.map((m) => m.addr), ...this.managers])];
                timer = setInterval(() => void this.heartbeat(conn, heartbeatMs), heartbeatMs);
                timer.unref();
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
            }
          },
          (err) => (err ? reject(err) : resolve()),
        );
      });
      this.wake = () => stream.reset('agent stopping');
      try {
        await done;
      } finally {
        if (timer) clearInterval(timer);
      }
    } finally {
      this.conn = null;
      conn.close('session over');
    }
  }

  private async heartbeat(conn: Connection, periodMs: number): Promise<void> {
    if (!this.sessionId) return;
    try {
      await conn.request(Heartbeat, { nodeId: this.opts.nodeId, sessionId: this.sessionId }, { timeoutMs: periodMs * 2 });
    } catch (err) {
      if (isWireError(err, 'REMOTE_ERROR') || isWireError(err, 'TIMEOUT')) {
        this.log(`heartbeat failed: ${(err as Error).message}`);
        conn.close('heartbeat failed');
      }
    }
  }

  private async flush(): Promise<void> {
    if (this.sending || this.pending.size === 0 || !this.conn || !this.sessionId) return;
    this.sending = true;
    const conn = this.conn;
    const batch = [...this.pending.values()];
    try {
      await conn.request(StatusReport, { nodeId: this.opts.nodeId, sessionId: this.sessionId, updates: batch }, { timeoutMs: 10_000 });
      // Acknowledged = committed. Drop what we sent unless a newer report replaced it meanwhile.
      for (const u of batch) if (this.pending.get(u.taskId) === u) this.pending.delete(u.taskId);
    } catch (err) {
      this.log(`status report not acknowledged (${(err as Error).message}); will resend`);
    } finally {
      this.sending = false;
    }
    if (this.pending.size > 0 && this.conn === conn && this.sessionId) setTimeout(() => void this.flush(), 20).unref();
  }

  private log(msg: string): void {
    this.opts.log?.(`agent ${this.opts.nodeId}: ${msg}`);
  }
}
