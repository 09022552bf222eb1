/**
 * Recovery times per fault, from what was recorded during the run:
 *  - failover (the leader killed, paused, cut off, out of space): from
 *    injection to the first acknowledged KV write that was issued after it;
 *  - reschedule (a worker killed, paused or cut off): from injection until
 *    every slot that ran on it has a running task on another node (or no
 *    longer wants one), as the managers report it; not measured when the
 *    node was never declared down (a pause shorter than the fence);
 *  - heal (partitions): from heal until every manager answers, names the
 *    same leader in the same term and has applied what the leader had
 *    committed at heal time.
 * A recovery that never came within the run is reported as null.
 */
import type { ChaosCluster } from './cluster.js';
import type { FaultRecord } from './faults/types.js';
import { agree, type LeaderSample } from './observe/leaders.js';
import type { TaskSample } from './observe/tasks.js';
import type { OpRecord } from './workload/history.js';

export interface Recovery {
  failoverMs?: number | null;
  rescheduleMs?: number | null;
  healMs?: number | null;
}

export function failoverMs(f: FaultRecord, ops: OpRecord[]): number | null {
  let best: number | null = null;
  for (const o of ops) {
    if (o.outcome !== 'ok' || o.call < f.injectAt) continue;
    const write = o.model === 'kv' ? o.input.op !== 'get' : o.input.op !== 'read';
    if (write && (best === null || o.ret < best)) best = o.ret;
  }
  return best === null ? null : best - f.injectAt;
}

export function rescheduleMs(f: FaultRecord, c: ChaosCluster, samples: TaskSample[]): number | null | undefined {
  const lost = new Set(f.workersLost.map((name) => c.nodes.find((n) => n.name === name)!.id));
  let before: TaskSample | undefined;
  for (const s of samples) if (s.t <= f.injectAt) before = s;
  if (!before) return undefined;
  const slots = new Set(before.tasks.filter((t) => lost.has(t.node) && t.state === 'running' && t.desired === 'running').map((t) => `${t.service}.${t.slot}`));
  if (slots.size === 0) return undefined; // nothing ran there: nothing to measure
  // A pause or cut shorter than the fence never makes the node down: its tasks had no need to move.
  const wentDown = samples.some((s) => s.t >= f.injectAt && s.t <= f.readyAt + 10_000 && [...lost].some((id) => s.down.has(id)));
  for (const s of samples) {
    if (s.t <= f.injectAt) continue;
    const ok = [...slots].every((k) => {
      const [svc, slot] = k.split('.');
      const mine = s.tasks.filter((t) => t.service === svc && String(t.slot) === slot);
      if (!mine.some((t) => t.desired === 'running')) return true; // scaled away
      return mine.some((t) => !lost.has(t.node) && t.state === 'running');
    });
    if (ok) return s.t - f.injectAt;
  }
  return wentDown ? null : undefined;
}

export function healMs(f: FaultRecord, samples: LeaderSample[]): number | null {
  const after = samples.filter((s) => s.t >= f.healAt);
  // What the leader had committed when the partition healed: the first view after it.
  let commit = 0;
  for (const s of after) {
    const l = [...s.views.values()].find((v) => v?.isLeader);
    if (l) {
      commit = l.commit;
      break;
    }
  }
  for (const s of after) if (agree(s, commit)) return s.t - f.healAt;
  return null;
}

export function recoveryOf(f: FaultRecord, ctx: { c: ChaosCluster; ops: OpRecord[]; tasks: TaskSample[]; leaders: LeaderSample[] }): Recovery {
  const r: Recovery = {};
  if (f.skipped) return r;
  if (f.affectsLeader) r.failoverMs = failoverMs(f, ctx.ops);
  if (f.workersLost.length > 0) {
    const ms = rescheduleMs(f, ctx.c, ctx.tasks);
    if (ms !== undefined) r.rescheduleMs = ms;
  }
  if (f.partition) r.healMs = healMs(f, ctx.leaders);
  return r;
}

/** Nearest-rank percentile; null for no data. */
export function percentile(xs: number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!);
}
