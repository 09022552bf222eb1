import { defineMessage } from '../../wire/registry.js';
import { array, bool, literal, num, object, oneOf, optional, str, tagged, uint } from '../../wire/schema.js';

/**
 * The node-local protocol between the agent (in the node daemon) and the
 * node's task supervisor, over a unix socket only root can open
 * (supervisor.sock, mode 0600). The supervisor is the parent of every task
 * the process and oci runtimes run; the agent asks it to start and signal
 * them and hears of every start and exit on one event stream.
 *
 * - `supervisor.hello` — who the supervisor is (PID, start time, node), and
 *   what it holds: the agent's first request after (re)connecting.
 * - `supervisor.configure` — the fencing lease: node ID and manager
 *   addresses to renew with. Until it is configured the supervisor runs
 *   tasks unfenced (standalone runtimes in tests); once configured it starts
 *   tasks only under a live lease.
 * - `supervisor.start` — run the task whose launch.json is in `dir`; the
 *   reply comes once it runs (its PID) or with why it could not.
 * - `supervisor.signal` — deliver a signal to a task (the supervisor is its
 *   parent, so the PID cannot have been reused under it).
 * - `supervisor.events` — a stream the agent opens: `started`, `exited`
 *   and `lease` frames, in order.
 * - `supervisor.shutdown` — stop every task (SIGKILL) and exit: `shoal down`.
 */

const id = str({ min: 1, max: 128 });
const path = str({ min: 1, max: 4096 });

export const exitSchema = object({
  exitCode: uint({ max: 255 }),
  signal: optional(str({ max: 16 })),
  oomKilled: bool(),
  finishedAt: str({ max: 64 }),
  message: optional(str({ max: 4096 })),
});

const heldSchema = object({ taskId: id, dir: path, pid: uint(), startedAt: str({ max: 64 }) });

export const SupervisorHello = defineMessage({
  name: 'supervisor.hello',
  version: 1,
  body: object({ agentPid: uint() }),
  response: object({
    pid: uint(),
    startTime: str({ max: 32 }),
    version: str({ max: 64 }),
    tied: bool(),
    configured: bool(),
    leaseValid: bool(),
    held: array(heldSchema, { max: 100_000 }),
  }),
  samples: () => [{ agentPid: 42 }],
  responseSamples: () => [{ pid: 7, startTime: '123', version: '0.1.0', tied: true, configured: false, leaseValid: false, held: [{ taskId: 't1', dir: '/d/t1', pid: 9, startedAt: '2026-12-03T00:00:00Z' }] }],
});

export const SupervisorConfigure = defineMessage({
  name: 'supervisor.configure',
  version: 1,
  /** `tls`: the node's key, certificate and CA, for the lease thread's mutual-TLS connections to the managers (over the root-only local socket). */
  body: object({ nodeId: id, managers: array(str({ min: 1, max: 300 }), { max: 64 }), tls: optional(object({ key: str({ max: 16_384 }), cert: str({ max: 16_384 }), ca: str({ max: 16_384 }) })) }),
  /**
   * `soleGraceMs`: this daemon came while the newest grant was its own sole
   * manager's (an earlier incarnation's), and the supervisor holds its tasks
   * through an expired lease for that long from now (lease.ts, fenceHeldOff);
   * the daemon's manager adds no voter before that has passed.
   */
  response: object({ ok: bool(), soleGraceMs: optional(uint()) }),
  samples: () => [{ nodeId: 'n1', managers: ['127.0.0.1:4242'] }, { nodeId: 'n1', managers: ['127.0.0.1:4242'], tls: { key: 'k', cert: 'c', ca: 'a' } }],
  responseSamples: () => [{ ok: true }, { ok: true, soleGraceMs: 3000 }],
});

export const SupervisorStart = defineMessage({
  name: 'supervisor.start',
  version: 1,
  body: object({ taskId: id, dir: path }),
  response: object({ pid: uint(), startedAt: str({ max: 64 }) }),
  samples: () => [{ taskId: 't1', dir: '/data/runtime/process/tasks/t1' }],
  responseSamples: () => [{ pid: 1234, startedAt: '2026-12-03T00:00:00Z' }],
});

export const SupervisorSignal = defineMessage({
  name: 'supervisor.signal',
  version: 1,
  body: object({ taskId: id, signal: str({ min: 3, max: 16 }) }),
  response: object({ delivered: bool() }),
  samples: () => [{ taskId: 't1', signal: 'SIGTERM' }],
  responseSamples: () => [{ delivered: true }],
});

export const SupervisorShutdown = defineMessage({
  name: 'supervisor.shutdown',
  version: 1,
  body: object({ reason: str({ max: 256 }) }),
  response: object({ stopped: uint() }),
  samples: () => [{ reason: 'shoal down' }],
  responseSamples: () => [{ stopped: 3 }],
});

export const SupervisorEvents = defineMessage({
  name: 'supervisor.events',
  version: 1,
  body: tagged('type', {
    subscribe: object({ type: literal('subscribe') }),
    started: object({ type: literal('started'), taskId: id, pid: uint(), startedAt: str({ max: 64 }) }),
    exited: object({ type: literal('exited'), taskId: id, exit: exitSchema }),
    lease: object({ type: literal('lease'), state: oneOf(['valid', 'expired', 'unconfigured'] as const), remainingMs: num() }),
  }),
  samples: () => [
    { type: 'subscribe' as const },
    { type: 'started' as const, taskId: 't1', pid: 99, startedAt: '2026-12-03T00:00:00Z' },
    { type: 'exited' as const, taskId: 't1', exit: { exitCode: 137, signal: 'SIGKILL', oomKilled: true, finishedAt: '2026-12-03T00:00:01Z' } },
    { type: 'lease' as const, state: 'valid' as const, remainingMs: 800 },
  ],
});

export interface HeldTask {
  taskId: string;
  dir: string;
  pid: number;
  startedAt: string;
}

export type SupervisorEvent =
  | { type: 'subscribe' }
  | { type: 'started'; taskId: string; pid: number; startedAt: string }
  | { type: 'exited'; taskId: string; exit: { exitCode: number; signal?: string; oomKilled: boolean; finishedAt: string; message?: string } }
  | { type: 'lease'; state: 'valid' | 'expired' | 'unconfigured'; remainingMs: number };

/** The supervisor socket's messages (node-local: the agent and the task supervisor); both sides add them to their registry. */
export const SUPERVISOR_MESSAGES = [SupervisorHello, SupervisorConfigure, SupervisorStart, SupervisorSignal, SupervisorShutdown, SupervisorEvents];
