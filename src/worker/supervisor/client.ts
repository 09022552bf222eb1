import { retry } from '../../util/retry.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../util/version.js';
import { writeJsonAtomic } from '../runtime/common/atomic.js';
import type { LogRotation } from '../runtime/common/log-format.js';
import { isSameProcess, readPidFile, untilGone, type ProcRef } from '../runtime/common/proc.js';
import type { ExitRecord } from '../runtime/common/task-dir.js';
import type { Connection, Stream } from '../../wire/interface.js';
import { WireError } from '../../wire/errors.js';
import { WsTransport } from '../../wire/ws-transport.js';
import '../../wire/messages.js';
import { SupervisorError, SupervisorErrorCode } from './errors.js';
import { SupervisorConfigure, SupervisorEvents, SupervisorHello, SupervisorShutdown, SupervisorSignal, SupervisorStart, type HeldTask, type SupervisorEvent } from './messages.js';
import { LOCAL_CONNECTION, SUPERVISOR_PEER_ID, socketPath, supervisorFile, type SupervisorConfig } from './paths.js';
import { componentLogger, type Logger } from '../../util/log/interface.js';

export interface SupervisorClientOptions {
  /** The supervisor's directory (<dataDir>/supervisor for a node). */
  dir: string;
  /** Task roots it may start tasks from (the runtimes' tasks directories). */
  roots: string[];
  rotation: LogRotation;
  /** The compiled supervisor (default: found next to this module, under dist/). */
  entry?: string;
  /** Whether the connection keeps this process alive (the node daemon's does; a standalone runtime's does not). */
  keepAlive?: boolean;
  /** Records carry component=supervisor. */
  log?: Logger;
}

export interface SupervisorInfo {
  pid: number;
  startTime: string;
  version: string;
  tied: boolean;
  configured: boolean;
  leaseValid: boolean;
  held: HeldTask[];
}

/** Tasks that ended because their supervisor did (its lease ran out, or it died). */
export interface SupervisorLoss {
  tasks: string[];
  exit: ExitRecord;
}

export interface SupervisorListener {
  started?(taskId: string, pid: number): void;
  exited?(taskId: string, exit: ExitRecord): void;
  /** The supervisor died: these tasks died with it (the agent records their exit). */
  lost?(loss: SupervisorLoss): void;
  lease?(state: 'valid' | 'expired' | 'unconfigured', remainingMs: number): void;
}

/**
 * The agent's handle on the node's task supervisor: finds the running one
 * (after an agent restart, that is what keeps every task running) or starts
 * one, and reconnects or replaces it as needed. Requests wait for a live
 * connection. Exits and the supervisor's own death arrive as events, so no
 * task is ever polled.
 */
export class SupervisorClient {
  private conn: Connection | null = null;
  private connecting: Promise<Connection> | null = null;
  private info: SupervisorInfo | null = null;
  private readonly held = new Set<string>();
  private readonly listeners = new Set<SupervisorListener>();
  private lastConfigure: { nodeId: string; managers: string[]; tls?: { key: string; cert: string; ca: string } } | null = null;
  private closed = false;
  /** shutdown() told the supervisor to end: never start another. */
  private ending = false;
  /** The current connection's close handler, done (shutdown() waits for it: the losses are reported there). */
  private afterClose: Promise<void> = Promise.resolve();
  private readonly transport: WsTransport;
  private readonly entry: string;
  private holdCount = 0;
  private holdTimer: NodeJS.Timeout | null = null;

  private readonly logger: Logger;

  constructor(private readonly opts: SupervisorClientOptions) {
    this.logger = componentLogger(opts.log, 'supervisor');
    this.transport = new WsTransport({ nodeId: `agent-${process.pid}`, connection: LOCAL_CONNECTION, unref: opts.keepAlive === false });
    this.entry = opts.entry ?? defaultSupervisorEntry();
  }

  get socket(): string {
    return socketPath(this.opts.dir);
  }

  /** The supervisor's PID (after the first connection), for tests and status. */
  get pid(): number | null {
    return this.info?.pid ?? null;
  }

  get tied(): boolean {
    return this.info?.tied ?? false;
  }

  holds(taskId: string): boolean {
    return this.held.has(taskId);
  }

  /** Whether a supervisor process is alive for this directory (its pid file, checked against /proc; no connection). */
  alive(): boolean {
    return this.running() !== null;
  }

  /**
   * Keeps this process alive until the returned function is called, for a
   * client whose socket does not (keepAlive false): a pending request, or
   * someone waiting for a task's exit, must not be dropped by an event loop
   * that thinks it has nothing left to do.
   */
  hold(): () => void {
    if (this.opts.keepAlive !== false) return () => {};
    if (this.holdCount++ === 0) this.holdTimer = setInterval(() => {}, 1 << 30);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.holdCount === 0 && this.holdTimer) {
        clearInterval(this.holdTimer);
        this.holdTimer = null;
      }
    };
  }

  private async busy<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.hold();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  subscribe(l: SupervisorListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** Connects (starting a supervisor if none runs) and returns what it holds. */
  async hello(): Promise<SupervisorInfo> {
    return this.busy(async () => {
      await this.connection();
      return this.info!;
    });
  }

  start(taskId: string, dir: string): Promise<{ pid: number; startedAt: string }> {
    return this.busy(async () => {
      const c = await this.connection();
      try {
        const r = await c.request(SupervisorStart, { taskId, dir }, { timeoutMs: 60_000 });
        this.held.add(taskId);
        return r;
      } catch (err) {
        throw remote(err);
      }
    });
  }

  signal(taskId: string, signal: string): Promise<boolean> {
    return this.busy(async () => {
      const c = await this.connection();
      try {
        return (await c.request(SupervisorSignal, { taskId, signal }, { timeoutMs: 10_000 })).delivered;
      } catch (err) {
        throw remote(err);
      }
    });
  }

  /**
   * Turns the fence on (or updates the managers it renews with). Remembered
   * for a replacement supervisor. `soleGraceMs`: how long from now the
   * supervisor may hold its tasks through an expired lease, waiting for this
   * node's sole manager to grant again (messages.ts, SupervisorConfigure).
   */
  configure(nodeId: string, managers: string[], tls?: { key: string; cert: string; ca: string }): Promise<{ soleGraceMs: number }> {
    this.lastConfigure = { nodeId, managers: [...managers], ...(tls ? { tls } : {}) };
    return this.busy(async () => {
      const c = await this.connection();
      const r = await c.request(SupervisorConfigure, this.lastConfigure!, { timeoutMs: 10_000 });
      return { soleGraceMs: r.soleGraceMs ?? 0 };
    });
  }

  /** Kills every task and ends the supervisor (`shoal down`). */
  async shutdown(reason: string): Promise<void> {
    if (!this.conn && !this.running()) return;
    await this.busy(async () => {
      const c = await this.connection();
      // From here no request may reconnect: a connection attempt finding no supervisor starts
      // one, and a call racing the node's exit did (seen in node logs: "supervisor: started"
      // after the stop) — a fresh supervisor outliving its stopped node, which recreated its
      // directory under `shoal down --purge`.
      this.ending = true;
      await c.request(SupervisorShutdown, { reason }, { timeoutMs: 10_000 }).catch(() => {});
      const closed = await Promise.race([c.closed.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 25_000).unref())]);
      // The node releases its tasks' roots next, sparing those the client still holds: let the close
      // handler finish first (it waits the moment a supervisor that closed its socket takes to be
      // gone, then reports what was lost with it). Not after the 25 s: that one is not exiting.
      if (closed) await this.afterClose;
    });
  }

  /** Stops using the supervisor; it and its tasks run on. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.holdTimer) clearInterval(this.holdTimer);
    this.holdTimer = null;
    this.conn?.close('agent stopping');
    await this.transport.close();
  }

  // ------------------------------------------------------------------ internals

  /** Is a supervisor process alive for this directory (per its pid file)? */
  private running(): ProcRef | null {
    const ref = readPidFile(supervisorFile(this.opts.dir, 'pid'));
    return isSameProcess(ref) ? ref : null;
  }

  private connection(): Promise<Connection> {
    if (this.closed) return Promise.reject(new SupervisorError('UNAVAILABLE', 'the supervisor client is closed'));
    if (this.conn?.isOpen) return Promise.resolve(this.conn);
    if (this.ending) return Promise.reject(new SupervisorError('UNAVAILABLE', 'the supervisor was shut down with the node'));
    this.connecting ??= this.connect().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private async connect(): Promise<Connection> {
    // The one we started, until it exits: it may take a moment to lock and listen.
    let child: { exited: boolean } | null = null;
    let lastErr = '';
    try {
      return await retry(
        async () => {
          if (!this.running() && (!child || child.exited)) child = this.spawnSupervisor();
          const c = await this.transport.connect(`unix:${this.socket}`, { expectNodeId: SUPERVISOR_PEER_ID, timeoutMs: 2_000 });
          await this.adopt(c);
          return c;
        },
        {
          what: 'reaching the task supervisor',
          deadlineMs: 15_000,
          // Starting, restarting, or a stale socket: all worth another try until the deadline.
          retryable: (err) => ((lastErr = (err as Error).message), !(err instanceof SupervisorError && err.code === 'NOT_INSTALLED')),
          backoff: { initialMs: 25, maxMs: 250 },
          stopped: () => this.closed,
          exhausted: 'last',
        },
      );
    } catch (err) {
      if (err instanceof SupervisorError) throw err;
      throw new SupervisorError('UNAVAILABLE', `cannot reach the task supervisor at ${this.socket}: ${lastErr || 'client closed'}; see ${supervisorFile(this.opts.dir, 'log')}`);
    }
  }

  private spawnSupervisor(): { exited: boolean } {
    if (!existsSync(this.entry)) throw new SupervisorError('NOT_INSTALLED', `the task supervisor ${this.entry} is missing: run \`npm run build\``);
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
    const cfg: SupervisorConfig = { roots: this.opts.roots, rotation: this.opts.rotation };
    writeJsonAtomic(supervisorFile(this.opts.dir, 'config'), cfg);
    const child = spawn(process.execPath, ['--max-semi-space-size=1', this.entry, this.opts.dir], {
      detached: true, // its own session: it outlives this agent (live restore) and its terminal's signals
      stdio: 'ignore',
      cwd: '/',
      // Not the agent's environment: NODE_OPTIONS (loaders, inspectors) must not reach it.
      env: {
        PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
        // `node` makes it spawn tasks itself (behind setpriv) instead of through its Perl forker.
        ...(process.env.SHOAL_TASK_FORKER ? { SHOAL_TASK_FORKER: process.env.SHOAL_TASK_FORKER } : {}),
      },
    });
    const state = { exited: false };
    child.on('error', (err) => {
      state.exited = true;
      this.logger.error(`cannot start: ${err.message}`);
    });
    child.on('exit', () => (state.exited = true));
    child.unref();
    this.logger.info({ supervisorPid: child.pid }, `started ${child.pid} for ${this.opts.dir}`);
    return state;
  }

  private async adopt(c: Connection): Promise<void> {
    const info = await c.request(SupervisorHello, { agentPid: process.pid }, { timeoutMs: 5_000 });
    const before = this.info;
    if (before && (before.pid !== info.pid || before.startTime !== info.startTime)) {
      // A different supervisor than the one that held our tasks: that one died, and its tasks with it.
      this.reportLoss(before);
    }
    this.info = info;
    this.held.clear();
    for (const h of info.held) this.held.add(h.taskId);
    if (this.lastConfigure && !info.configured) await c.request(SupervisorConfigure, this.lastConfigure, { timeoutMs: 10_000 });
    const events = c.openStream(SupervisorEvents, { type: 'subscribe' }) as Stream<SupervisorEvent>;
    events.onData((e) => this.onEvent(e));
    this.conn = c;
    this.afterClose = c.closed.then(async () => {
      if (this.conn !== c) return;
      this.conn = null;
      if (this.closed) return;
      // The kernel closes a dying process's sockets before it even becomes a zombie, so a supervisor
      // that just died can look alive for a moment. A reconnect finds out in its own time; after a
      // shutdown nothing reconnects, and the loss went unreported (a flake of the release test in CI).
      const dying = this.ending ? this.running() : null;
      if (dying) await untilGone(dying, 5_000);
      if (this.closed) return;
      // Gone for good, or just the connection? A dead supervisor took its tasks along.
      if (!this.running() && this.info) {
        const dead = this.info;
        this.info = null;
        this.reportLoss(dead);
      }
      // Reconnect (or replace it) now, so events resume and a lease is renewed again; not when the
      // node shut it down (that only logged "UNAVAILABLE: the supervisor was shut down with the node").
      if (this.ending) return;
      void this.connection().catch((err: Error) => this.logger.warn(err.message));
    }).catch((err: Error) => this.logger.error(`after the supervisor connection closed: ${err.message}`));
  }

  /**
   * The fence notes this node's supervisors left: the current (or last) one's
   * (`fenced`), then, once a new supervisor has started, the one before it
   * (`fenced.prev`). A task that ended with its supervisor ended by a fence
   * when a note is at least as new as the task's start.
   */
  fenceNotes(): { at: string; why: string; current: boolean }[] {
    const notes: { at: string; why: string; current: boolean }[] = [];
    for (const [file, current] of [[supervisorFile(this.opts.dir, 'fenced'), true], [`${supervisorFile(this.opts.dir, 'fenced')}.prev`, false]] as const) {
      try {
        const f = JSON.parse(readFileSync(file, 'utf8')) as { at?: string; why?: string };
        if (typeof f.at === 'string' && typeof f.why === 'string') notes.push({ at: f.at, why: f.why, current });
      } catch {
        /* none */
      }
    }
    return notes;
  }

  private reportLoss(dead: SupervisorInfo): void {
    const tasks = [...this.held];
    this.held.clear();
    if (tasks.length === 0) return;
    // The supervisor that just died is the one whose note is current (a new one has not started yet).
    const message = this.fenceNotes().find((n) => n.current)?.why ?? `the node's task supervisor (pid ${dead.pid}) died, and the task with it`;
    const exit: ExitRecord = { exitCode: 137, signal: 'SIGKILL', oomKilled: false, finishedAt: new Date().toISOString(), message };
    this.logger.warn({ tasks: tasks.length }, `${tasks.length} task(s) ended with their supervisor: ${message}`);
    for (const l of this.listeners) l.lost?.({ tasks, exit });
  }

  private onEvent(e: SupervisorEvent): void {
    switch (e.type) {
      case 'started':
        this.held.add(e.taskId);
        for (const l of this.listeners) l.started?.(e.taskId, e.pid);
        return;
      case 'exited':
        this.held.delete(e.taskId);
        for (const l of this.listeners) l.exited?.(e.taskId, e.exit);
        return;
      case 'lease':
        for (const l of this.listeners) l.lease?.(e.state, e.remainingMs);
        return;
    }
  }
}

/** A SupervisorError thrown in the supervisor arrives as REMOTE_ERROR carrying it as data: rebuild it, so callers branch on its code. */
function remote(err: unknown): Error {
  const r = err instanceof WireError ? err.remote : undefined;
  if (r?.code.startsWith('supervisor.')) {
    const code = r.code.slice('supervisor.'.length);
    if (code in SupervisorErrorCode) {
      const c = code as SupervisorErrorCode;
      return new SupervisorError(c, r.message.startsWith(`${c}: `) ? r.message.slice(c.length + 2) : r.message);
    }
  }
  return err as Error;
}

/**
 * The supervisor program: dist/src/worker/supervisor/main.js, the product's
 * (one bundled file: scripts/bundle-dist.mjs). Found from the package root,
 * not from this module's own place: this module may itself be inside the
 * CLI's bundle (dist/bin/shoal.js), or compiled for tests under .build/,
 * and either way dist/ holds the program a node runs.
 */
export function defaultSupervisorEntry(): string {
  return path.join(packageRoot(), 'dist', 'src', 'worker', 'supervisor', 'main.js');
}
