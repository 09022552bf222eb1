/**
 * No slot runs twice, beyond the documented window. Two views:
 *
 * - real (the ground truth): the alive intervals of the task processes
 *   themselves (heartbeats). Two tasks of one (service, slot) alive at the
 *   same time is an overlap. Documented bounds:
 *     · after a node process dies or is paused: 0 — its tasks are fenced by
 *       their supervisors (lease stale after fenceMs) before the managers
 *       declare the node down (last contact + fenceMs + a margin), so the
 *       replacement starts after the original ended. The measurement can
 *       only under-estimate (the old task's last beat is a time it surely
 *       ran, the new one's start stamp a time it surely ran), so
 *       FENCE_SLACK_MS is small: clock reads and `date` rounding;
 *     · during a partition: like Swarm, a worker cut off from the leader
 *       keeps running its tasks (its agent is alive and its lease fresh)
 *       while they are rescheduled elsewhere; the overlap lasts until the
 *       partition heals and the worker, reconnected, stops its stale copies:
 *       at most the partition's length + PARTITION_SLACK_MS. This covers any
 *       overlap that starts while a partition is in force (an isolated
 *       leader also cuts the workers' sessions with it).
 * - api: the managers' view (GET /tasks): per slot, tasks in Status.State
 *   running on nodes the store does not hold down. A node that comes back
 *   still shows its stale tasks as running until it has stopped them and
 *   reported it: at most API_SLACK_MS.
 */
import type { ChaosCluster } from '../cluster.js';
import type { FaultRecord } from '../faults/types.js';
import type { BeatWatcher } from '../observe/beats.js';
import type { TaskSampler } from '../observe/tasks.js';
import type { Verdict } from './verdict.js';

export const FENCE_SLACK_MS = 100;
export const PARTITION_SLACK_MS = 10_000;
export const API_SLACK_MS = 5_000;

export interface Overlap {
  slot: string;
  tasks: [string, string];
  nodes: [string, string];
  start: number;
  ms: number;
  bound: number;
  cause: string;
}

export function checkSlots(c: ChaosCluster, beats: BeatWatcher, tasks: TaskSampler, faults: FaultRecord[]): Verdict & { maxRealMs: number; maxApiMs: number; overlaps: Overlap[] } {
  const name = (id: string) => c.byId(id)?.name ?? id.slice(0, 8);
  const bySlot = new Map<string, { id: string; node: string; first: number; last: number }[]>();
  let unmapped = 0;
  for (const [id, a] of beats.alive) {
    const m = tasks.meta.get(id);
    if (!m) {
      unmapped++;
      continue;
    }
    const k = `${m.service}.${m.slot}`;
    const l = bySlot.get(k) ?? [];
    l.push({ id, node: m.node, first: a.first, last: a.last });
    bySlot.set(k, l);
  }
  const overlaps: Overlap[] = [];
  for (const [slot, ts] of bySlot) {
    for (let i = 0; i < ts.length; i++) {
      for (let j = i + 1; j < ts.length; j++) {
        const a = ts[i]!;
        const b = ts[j]!;
        const start = Math.max(a.first, b.first);
        const ms = Math.min(a.last, b.last) - start;
        if (ms <= 0) continue;
        const { bound, cause } = boundFor(start, [name(a.node), name(b.node)], faults);
        overlaps.push({ slot, tasks: [a.id, b.id], nodes: [name(a.node), name(b.node)], start, ms, bound, cause });
      }
    }
  }
  const details: string[] = [];
  const over = overlaps.filter((o) => o.ms > o.bound);
  for (const o of over) details.push(`slot ${o.slot}: tasks on ${o.nodes.join(' and ')} both ran for ${Math.round(o.ms)} ms from ${Math.round(o.start)} ms (bound ${o.bound} ms, ${o.cause})`);
  const apiOver = tasks.episodes.filter((e) => e.end - e.start > API_SLACK_MS);
  for (const e of apiOver) details.push(`api view: slot ${e.slot} running on ${e.nodes.map(name).join(' and ')} for ${Math.round(e.end - e.start)} ms from ${Math.round(e.start)} ms (bound ${API_SLACK_MS} ms)`);
  const maxRealMs = Math.round(Math.max(0, ...overlaps.map((o) => o.ms)));
  const maxApiMs = Math.round(Math.max(0, ...tasks.episodes.map((e) => e.end - e.start)));
  const byCause = new Map<string, number>();
  for (const o of overlaps) byCause.set(o.cause, Math.max(byCause.get(o.cause) ?? 0, o.ms));
  return {
    name: 'no-double-run',
    pass: over.length === 0 && apiOver.length === 0,
    maxRealMs,
    maxApiMs,
    overlaps,
    summary:
      `${beats.alive.size} task processes seen${unmapped ? ` (${unmapped} unmapped)` : ''}; ${overlaps.length} real overlaps, max ${maxRealMs} ms` +
      (byCause.size ? ` (${[...byCause].map(([k, v]) => `${k}: ${Math.round(v)} ms`).join(', ')})` : '') +
      `; api view max ${maxApiMs} ms`,
    details,
  };
}

/** The documented bound for an overlap starting at `t` between tasks on `nodes`. */
function boundFor(t: number, nodes: string[], faults: FaultRecord[]): { bound: number; cause: string } {
  for (const f of faults) {
    if (f.skipped || !f.partition) continue;
    void nodes;
    if (t >= f.injectAt - 1_000 && t <= f.readyAt + PARTITION_SLACK_MS) return { bound: Math.round(f.healAt - f.injectAt) + PARTITION_SLACK_MS, cause: `partition ${f.seq}` };
  }
  return { bound: FENCE_SLACK_MS, cause: 'fencing' };
}
