/**
 * Process faults, by signal: SIGKILL then a restart from the same data dir
 * (a crash: no shutdown code runs, tasks outlive their node and are fenced
 * by their supervisors), SIGSTOP then SIGCONT (a pause: the process, its
 * timers and sockets freeze; peers see silence, then a node that comes back
 * with a stale view). crash-managers SIGKILLs every manager at once.
 */
import type { ChaosNode } from '../cluster.js';
import { pick, type FaultImpl } from './impl.js';

export const killWorker: FaultImpl = async ({ c, ev }) => {
  const w = pick(ev, c.workers().filter((n) => c.up(n)));
  if (!w) return { skip: 'no running worker' };
  await c.kill(w);
  return { targets: [w], affectsLeader: false, workersLost: [w], note: `SIGKILL ${w.name}`, heal: () => c.restart(w) };
};

export const killLeader: FaultImpl = async ({ c, leader }) => {
  if (!leader) return { skip: 'no leader' };
  await c.kill(leader);
  return { targets: [leader], affectsLeader: true, workersLost: [], note: `SIGKILL leader ${leader.name}`, heal: () => c.restart(leader) };
};

export const killFollower: FaultImpl = async ({ c, ev, leader }) => {
  const f = pick(ev, c.managers().filter((m) => m !== leader && c.up(m)));
  if (!f) return { skip: 'no running follower' };
  await c.kill(f);
  return { targets: [f], affectsLeader: false, workersLost: [], note: `SIGKILL follower ${f.name}`, heal: () => c.restart(f) };
};

export const crashManagers: FaultImpl = async ({ c }) => {
  const ms = c.managers().filter((m) => m.proc.proc);
  await Promise.all(ms.map((m) => c.kill(m)));
  return {
    targets: ms,
    affectsLeader: true,
    workersLost: [],
    note: `SIGKILL all ${ms.length} managers at once`,
    heal: async () => {
      await Promise.all(ms.map((m) => c.restart(m)));
    },
  };
};

export const pauseWorker: FaultImpl = async ({ c, ev }) => {
  const w = pick(ev, c.workers().filter((n) => c.up(n)));
  if (!w) return { skip: 'no running worker' };
  c.pause(w);
  return { targets: [w], affectsLeader: false, workersLost: [w], note: `SIGSTOP ${w.name}`, heal: () => c.resume(w) };
};

export const pauseLeader: FaultImpl = async ({ c, leader }) => {
  if (!leader) return { skip: 'no leader' };
  c.pause(leader);
  const l: ChaosNode = leader;
  return { targets: [l], affectsLeader: true, workersLost: [], note: `SIGSTOP leader ${l.name}`, heal: () => c.resume(l) };
};
