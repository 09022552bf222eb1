/**
 * The node's task supervisor: one long-lived process per node, apart from
 * the node daemon, that is the parent of every task the process and oci
 * runtimes run, and keeps the node's fencing lease.
 *
 *   node dist/src/worker/supervisor/main.js <supervisor dir>
 *
 * Why one process for all tasks, not one per task: a Node.js supervisor per
 * task cost ~44 MB and a steady trickle of CPU each; here a task costs its
 * own processes plus a few KB of bookkeeping (see README, "Task
 * supervision"). Why apart from the daemon: the daemon can crash, hang or
 * restart (live restore) without touching a task; the supervisor is small
 * and does little, so it is the part least likely to fail. When it does
 * fail, its tasks die with it (PR_SET_PDEATHSIG, see holder.ts): nothing
 * ever runs unsupervised, unfenced or without an exit status to report.
 */
import { SUPERVISOR_MESSAGES } from './messages.js';
import type { MessageType } from '../../wire/registry.js';
import { existsSync, mkdirSync, renameSync, rmSync, appendFileSync, chmodSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { readJson } from '../runtime/common/atomic.js';
import { DEFAULT_LOG_ROTATION } from '../runtime/common/log-format.js';
import { isSameProcess, lockPidFile, procStartTime } from '../runtime/common/proc.js';
import { monotonicMs } from '../../util/monotonic.js';
import { packageVersion } from '../../util/version.js';
import type { Connection, Stream } from '../../wire/interface.js';
import { WsTransport } from '../../wire/ws-transport.js';
import '../../wire/messages.js';
import '../../protocol/lease.js';
import { SupervisorError } from './errors.js';
import { TaskHolder } from './holder.js';
import { SHARED_SLOTS, SLOT_FENCE_MS, SLOT_HELD, SLOT_SOLE, SLOT_UNTIL, SOLE_GRACE_PERIODS, type DaemonRef, type LeaseThreadData, type LeaseThreadEvent, type LeaseThreadMessage } from './lease.js';
import { SupervisorConfigure, SupervisorEvents, SupervisorHello, SupervisorShutdown, SupervisorSignal, SupervisorStart, type SupervisorEvent } from './messages.js';
import { newSupervisorMetrics } from './metrics.js';
import { DEFAULT_SUPERVISOR_OPTIONS } from './options.js';
import { LOCAL_CONNECTION, SUPERVISOR_PEER_ID, socketPath, supervisorFile, type SupervisorConfig } from './paths.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: supervisor <dir>\n');
  process.exit(2);
}
const opts = DEFAULT_SUPERVISOR_OPTIONS;

/** The node this supervisor serves, once the agent has said (configure): its records name it. */
let nodeId: string | undefined;

/**
 * One record in the node log's format (src/util/log: JSON, level, time, pid,
 * node, component) to supervisor.log, written by hand rather than through
 * pino: this process holds every task and stays as small as it can, and it
 * writes a few lines a day.
 */
function diag(msg: string, level: 'info' | 'warn' | 'error' = 'info'): void {
  try {
    const rec = { level, time: new Date().toISOString(), pid: process.pid, ...(nodeId ? { node: nodeId } : {}), component: 'supervisor-process', msg };
    appendFileSync(supervisorFile(dir!, 'log'), `${JSON.stringify(rec)}\n`);
  } catch {
    /* nowhere left to say it */
  }
}

// Nothing may end the supervisor by accident: that would kill every task.
process.on('uncaughtException', (err) => diag(`uncaught: ${err.stack ?? err.message}`, 'error'));
process.on('unhandledRejection', (err) => diag(`unhandled rejection: ${(err as Error)?.stack ?? err}`, 'error'));
for (const s of ['SIGHUP', 'SIGPIPE', 'SIGUSR1', 'SIGUSR2'] as const) process.on(s, () => {});

/** One supervisor per directory: its pid file, held exclusively (a stale one, of a dead owner, is taken over). */
function lock(): boolean {
  return lockPidFile(supervisorFile(dir!, 'pid'));
}

/**
 * As root, the supervisor (and its lease thread, created later, which
 * inherits it) runs at nice -10: tasks that saturate the CPUs must not delay
 * the renewals that keep them alive. Tasks are put back to the default 0.
 */
function raisePriority(): number | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const before = getPriority();
    setPriority(-10);
    return before;
  } catch (err) {
    diag(`cannot raise the supervisor's priority: ${(err as Error).message}`);
    return null;
  }
}

async function main(): Promise<void> {
  mkdirSync(dir!, { recursive: true, mode: 0o700 });
  const taskNice = raisePriority();
  if (!lock()) {
    diag(`another supervisor already runs for ${dir}; exiting`);
    process.exit(0);
  }
  const cfg = readJson<SupervisorConfig>(supervisorFile(dir!, 'config')) ?? { roots: [], rotation: DEFAULT_LOG_ROTATION };
  // The previous supervisor's last words, kept for whoever investigates (the agent has read them).
  try {
    renameSync(supervisorFile(dir!, 'fenced'), `${supervisorFile(dir!, 'fenced')}.prev`);
  } catch {
    /* it was not fenced */
  }
  const metrics = newSupervisorMetrics();
  const subscribers = new Set<Stream<SupervisorEvent>>();
  const emit = (e: SupervisorEvent) => {
    for (const s of subscribers) {
      try {
        s.write(e);
      } catch {
        subscribers.delete(s);
      }
    }
  };
  const shared = new Float64Array(new SharedArrayBuffer(SHARED_SLOTS * Float64Array.BYTES_PER_ELEMENT));
  const holder = new TaskHolder(
    cfg.roots,
    cfg.rotation,
    {
      started: (taskId, pid, startedAt) => {
        shared[SLOT_HELD] = holder.size;
        emit({ type: 'started', taskId, pid, startedAt });
      },
      exited: (taskId, exit) => {
        shared[SLOT_HELD] = holder.size;
        emit({ type: 'exited', taskId, exit });
      },
    },
    metrics,
    diag,
    opts,
  );
  holder.taskNice = taskNice;

  let lease: { worker: Worker; nodeId: string } | null = null;
  let leaseState: 'valid' | 'expired' | 'unconfigured' = 'unconfigured';
  const leaseValid = () => lease === null || monotonicMs() < shared[SLOT_UNTIL]!;

  const transport = new WsTransport({ nodeId: SUPERVISOR_PEER_ID, connection: LOCAL_CONNECTION });
  // The socket's messages, known before the agent's first frame (nothing registers on import).
  transport.codec.registry.add(...(SUPERVISOR_MESSAGES as MessageType[]));
  const sock = socketPath(dir!);
  rmSync(sock, { force: true });
  await transport.listen({ path: sock });
  chmodSync(sock, 0o600);
  let agents = 0;
  let lastAgentAt = monotonicMs();
  transport.onConnection((c) => {
    agents++;
    void c.closed.then(() => {
      agents--;
      lastAgentAt = monotonicMs();
    });
  });

  // The node daemon on each connection, as its hello names it (the socket is root's alone), read at once.
  const daemons = new WeakMap<Connection, { pid: number; startTime: string }>();
  let daemon: DaemonRef | null = null;
  /**
   * The daemon that configures us (lease.ts, fenceHeldOff). A new one that
   * comes while the newest grant is a sole manager's gets SOLE_GRACE_PERIODS
   * fence periods for its manager to grant again, and is told so: its
   * manager adds no voter before that has passed (manager/lease/sole-manager.ts).
   */
  const daemonConfigured = (c: Connection): number => {
    const d = daemons.get(c);
    if (!d) return 0;
    // The same daemon again (its managers changed, or its first configure raced another): what is left of its grace.
    if (daemon && daemon.pid === d.pid && daemon.startTime === d.startTime) return Math.max(0, Math.ceil(daemon.graceUntil - monotonicMs()));
    // A grace only for a daemon after one that is gone: one alive beside it could wake and decide.
    const previousGone = !daemon || !isSameProcess(daemon);
    const graceMs = previousGone && shared[SLOT_SOLE] === 1 ? SOLE_GRACE_PERIODS * shared[SLOT_FENCE_MS]! : 0;
    daemon = { ...d, graceUntil: graceMs > 0 ? monotonicMs() + graceMs : 0 };
    lease?.worker.postMessage({ type: 'daemon', daemon } satisfies LeaseThreadMessage);
    const pid = d.pid;
    void c.closed.then(() => lease?.worker.postMessage({ type: 'daemon-closed', pid } satisfies LeaseThreadMessage));
    return graceMs;
  };

  transport.onRequest(SupervisorHello, (b, c) => {
    const startTime = procStartTime(b.agentPid);
    if (startTime) daemons.set(c, { pid: b.agentPid, startTime });
    return {
      pid: process.pid,
      startTime: procStartTime(process.pid) ?? '',
      version: packageVersion(),
      tied: holder.tied,
      configured: lease !== null,
      leaseValid: lease !== null && leaseValid(),
      held: holder.list(),
    };
  });

  transport.onRequest(SupervisorConfigure, (b, c) => {
    if (lease && lease.nodeId !== b.nodeId) throw new SupervisorError('BAD_TASK', `this supervisor keeps node ${lease.nodeId}'s lease, not ${b.nodeId}'s`);
    if (lease) {
      lease.worker.postMessage({ type: 'managers', managers: b.managers } satisfies LeaseThreadMessage);
      // A renewed certificate: new connections use it.
      if (b.tls) lease.worker.postMessage({ type: 'tls', tls: b.tls } satisfies LeaseThreadMessage);
      const soleGraceMs = daemonConfigured(c);
      return { ok: true, ...(soleGraceMs > 0 ? { soleGraceMs } : {}) };
    }
    daemonConfigured(c);
    const data: LeaseThreadData = {
      nodeId: b.nodeId,
      managers: b.managers,
      renewEveryMs: opts.renewEveryMs,
      fenceCheckMs: opts.fenceCheckMs,
      shared: shared.buffer as SharedArrayBuffer,
      fencedFile: supervisorFile(dir!, 'fenced'),
      ...(b.tls ? { tls: b.tls } : {}),
      ...(daemon ? { daemon } : {}),
    };
    const worker = new Worker(new URL('./lease-thread.js', import.meta.url), { workerData: data });
    worker.on('message', (e: LeaseThreadEvent) => {
      if (e.type === 'log') return diag(e.msg);
      leaseState = e.state;
      emit({ type: 'lease', state: e.state, remainingMs: e.remainingMs });
    });
    worker.on('error', (err) => diag(`lease thread failed: ${err.stack ?? err.message}`, 'error'));
    worker.on('exit', (code) => {
      // Without its fence the supervisor must not hold tasks: end, and take them along.
      diag(`lease thread exited (${code}); ending the supervisor and its tasks`, 'error');
      process.kill(process.pid, 'SIGKILL');
    });
    lease = { worker, nodeId: b.nodeId };
    nodeId = b.nodeId;
    diag(`fencing lease for node ${b.nodeId} with managers ${b.managers.join(', ')}`);
    return { ok: true };
  });

  transport.onRequest(SupervisorStart, async (b) => {
    // Refused at once, never waited for here: while a start waited, the managers could declare
    // the node down, replace the task elsewhere and take the node back, and the start would go on
    // with an assignment that no longer holds. The agent waits instead, between attempts, and
    // looks at what the managers want before each one (worker/agent/task-controller.ts).
    if (lease && !leaseValid()) {
      throw new SupervisorError('NO_LEASE', `this node's lease is not valid now (${leaseState}): tasks start only while a manager hears the node`);
    }
    const r = await holder.start(b.taskId, b.dir);
    shared[SLOT_HELD] = holder.size;
    return r;
  });

  transport.onRequest(SupervisorSignal, (b) => ({ delivered: holder.signal(b.taskId, b.signal) }));

  transport.onStream(SupervisorEvents, (stream) => {
    const s = stream as Stream<SupervisorEvent>;
    subscribers.add(s);
    s.onData(
      () => {},
      () => subscribers.delete(s),
    );
    if (lease) s.write({ type: 'lease', state: leaseValid() ? 'valid' : 'expired', remainingMs: Math.max(0, shared[SLOT_UNTIL]! - monotonicMs()) });
  });

  let stopping = false;
  const stop = async (why: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    diag(`stopping: ${why}`);
    const n = await holder.stopAll();
    diag(`stopped ${n} task(s)`);
    await transport.close().catch(() => {});
    rmSync(sock, { force: true });
    rmSync(supervisorFile(dir!, 'pid'), { force: true });
    process.exit(code);
  };
  transport.onRequest(SupervisorShutdown, (b) => {
    const n = holder.size;
    setImmediate(() => void stop(`asked to: ${b.reason}`));
    return { stopped: n };
  });
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  // The directory is the only handle anyone has on these tasks. If it is
  // deleted (the data dir wiped, a test torn down), no agent can ever reach
  // them: end rather than run on forever. An idle supervisor that no agent
  // has needed for a minute ends too.
  setInterval(() => {
    if (!existsSync(dir!)) return void stop('its directory was deleted', 0);
    if (agents === 0 && holder.size === 0 && monotonicMs() - lastAgentAt > 60_000) void stop('idle: no tasks and no agent for a minute');
  }, 2_000).unref();
  diag(`supervisor ${process.pid} listening on ${sock} (tasks started by ${holder.spawner}, ${holder.tied ? 'tied to it by PR_SET_PDEATHSIG' : 'NOT tied: setpriv is missing'})`);
}

main().catch((err: Error) => {
  diag(`cannot start: ${err.stack ?? err.message}`, 'error');
  process.exit(1);
});
