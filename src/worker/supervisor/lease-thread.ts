/**
 * The fence: a worker thread of the task supervisor that keeps the node's
 * lease with the managers and ends the supervisor — and with it every task,
 * which the kernel kills when their parent dies — once no manager has
 * granted a renewal for the fence period.
 *
 * It runs on its own event loop, so spawning hundreds of tasks on the
 * supervisor's main thread cannot delay a renewal, and a busy or stalled
 * node daemon (another process) cannot either: the node keeps its lease as
 * long as any manager hears it (manager/lease/core.ts has the managers'
 * side and the safety argument).
 *
 * Shared with the main thread (Float64Array over a SharedArrayBuffer):
 *   [0] lease valid until (monotonic ms)   written here
 *   [1] tasks held                          written by the main thread
 */
import { parentPort, workerData } from 'node:worker_threads';
import { writeFileSync } from 'node:fs';
import '../../protocol/lease.js';
import { monotonicMs } from '../../util/monotonic.js';
import { WsTransport } from '../../wire/ws-transport.js';
import { isSameProcess, untilGone } from '../runtime/common/proc.js';
import { LeaseKeeper } from './lease-keeper.js';
import { fenceHeldOff, SLOT_FENCE_MS, SLOT_HELD, SLOT_SOLE, SLOT_UNTIL, type DaemonRef, type LeaseThreadData, type LeaseThreadEvent, type LeaseThreadMessage } from './lease.js';

function main(): void {
  const data = workerData as LeaseThreadData;
  const shared = new Float64Array(data.shared);
  const post = (e: LeaseThreadEvent) => parentPort?.postMessage(e);
  const transport = new WsTransport({ nodeId: data.nodeId, ...(data.tls ? { tls: { ...data.tls, nodeIdentity: true } } : {}) });
  const keeper = new LeaseKeeper({
    transport,
    nodeId: data.nodeId,
    managers: data.managers,
    renewEveryMs: data.renewEveryMs,
    holdsTasks: () => shared[SLOT_HELD]! > 0,
    onGrant: (l) => {
      // A manager granted again: a restarted daemon's grace (fenceHeldOff) has done its job.
      if (daemon && daemon.graceUntil > 0) daemon = { ...daemon, graceUntil: 0 };
      shared[SLOT_UNTIL] = l.until;
      shared[SLOT_SOLE] = l.lastGrantSole ? 1 : 0;
      shared[SLOT_FENCE_MS] = l.fenceMs;
      check();
      arm();
    },
  });
  const lease = keeper.lease;
  let valid = false;

  // The daemon that configured us last. Once seen dead it stays dead (a PID and start time never come back).
  let daemon: DaemonRef | null = data.daemon ?? null;
  let diedBy: number | null = null;
  let heldOff = false;
  const daemonState = () => {
    if (!daemon) return null;
    if (diedBy === null && !isSameProcess(daemon)) diedBy = monotonicMs();
    return { alive: diedBy === null, graceUntil: daemon.graceUntil, diedBy };
  };
  // Its socket closes before the process looks gone: look until it is, so that a death long
  // before the deadline is known as such however late the deadline's look runs.
  const watchDeath = (d: DaemonRef) => {
    void untilGone(d, 5_000).then((gone) => {
      if (gone && daemon?.pid === d.pid && daemon.startTime === d.startTime && diedBy === null) diedBy = monotonicMs();
    });
  };

  const check = () => {
    const now = monotonicMs();
    const ok = lease.valid(now);
    if (ok !== valid) {
      valid = ok;
      post({ type: 'lease', state: ok ? 'valid' : 'expired', remainingMs: Math.max(0, lease.until - now) });
    }
    if (ok || shared[SLOT_HELD]! <= 0 || !lease.everGranted) {
      heldOff = false;
      return;
    }
    if (fenceHeldOff(lease, daemonState(), now, heldOff)) {
      if (!heldOff) post({ type: 'log', msg: `the lease ran out while this node's manager, the cluster's only one, is ${diedBy !== null ? 'not running' : 'starting again'}: the tasks run on (no other manager can replace them)` });
      heldOff = true;
      return;
    }
    fence(now);
  };

  const fence = (now: number) => {
    const why = `fenced: no manager renewed node ${data.nodeId}'s lease for ${Math.round(now - lease.lastGrantSentAt)} ms (fence period ${lease.fenceMs} ms); every task is killed so none runs beside its replacement`;
    try {
      writeFileSync(data.fencedFile, JSON.stringify({ at: new Date().toISOString(), why }) + '\n');
    } catch {
      /* the kill matters more than the note */
    }
    // The kernel ends every task with us (PR_SET_PDEATHSIG on each, and each container's init).
    process.kill(process.pid, 'SIGKILL');
  };

  // One timer, set for the lease's deadline and moved by every grant: the
  // fence acts at the deadline itself (a poll acts up to a period late) and
  // an idle node's thread does not wake 50 times a second to find nothing.
  // Only an expired lease with no task held is looked at every fenceCheckMs,
  // in case a task is started after all; before the first grant there is
  // nothing to fence, and the grant arms the timer.
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    if (!lease.everGranted) return;
    const left = lease.until - monotonicMs();
    timer = setTimeout(
      () => {
        check();
        arm();
      },
      left > 0 ? Math.ceil(left) : data.fenceCheckMs,
    );
  };
  parentPort?.on('message', (m: LeaseThreadMessage) => {
    if (m.type === 'managers') keeper.setManagers(m.managers);
    else if (m.type === 'tls') transport.updateTls({ ...m.tls, nodeIdentity: true });
    else if (m.type === 'daemon-closed') {
      if (daemon?.pid === m.pid) watchDeath(daemon);
    } else if (m.type === 'daemon') {
      daemon = m.daemon;
      diedBy = null;
      // A new daemon ends a hold-off on a dead one unless it came with a grace: look again now.
      check();
      arm();
    }
  });
}

main();
