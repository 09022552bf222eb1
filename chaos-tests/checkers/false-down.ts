/**
 * Advisory: nodes the managers declared down although no fault of ours
 * touched them (not killed, paused or cut off at the time). A live worker
 * declared down has its tasks rescheduled while they still run — the
 * no-double-run checker then sees the overlap; this one names the cause.
 * Typical trigger: agents slow to find a new leader after a leader fault.
 */
import type { ChaosCluster } from '../cluster.js';
import type { FaultRecord } from '../faults/types.js';
import type { TaskSample } from '../observe/tasks.js';
import type { Verdict } from './verdict.js';

/** A node stays explainably down this long after the fault that touched it healed (restart, reconnect). */
const AFTER_HEAL_MS = 15_000;

export function checkFalseDown(c: ChaosCluster, samples: TaskSample[], faults: FaultRecord[]): Verdict & { events: { node: string; at: number; during: string }[] } {
  const events: { node: string; at: number; during: string }[] = [];
  const wasDown = new Set<string>();
  for (const s of samples) {
    for (const id of s.down) {
      if (wasDown.has(id)) continue;
      const n = c.byId(id);
      if (!n) continue;
      const touched = faults.some((f) => !f.skipped && (f.targets.includes(n.name) || f.workersLost.includes(n.name)) && s.t >= f.injectAt && s.t <= f.readyAt + AFTER_HEAL_MS);
      if (!touched) {
        const during = faults.filter((f) => !f.skipped && s.t >= f.injectAt - 1_000 && s.t <= f.readyAt + AFTER_HEAL_MS).map((f) => `${f.seq} ${f.kind}`);
        events.push({ node: n.name, at: Math.round(s.t), during: during.join(', ') || 'no fault' });
      }
    }
    // A node that is up again may be declared down again later: count each transition.
    for (const id of [...wasDown]) if (!s.down.has(id)) wasDown.delete(id);
    for (const id of s.down) wasDown.add(id);
  }
  return {
    name: 'no-false-down',
    advisory: true,
    pass: events.length === 0,
    events,
    summary: events.length === 0 ? 'no node declared down unless a fault touched it' : `${events.length} live, reachable node(s) declared down`,
    details: events.map((e) => `${e.node} declared down at ${e.at} ms (faults around: ${e.during})`),
  };
}
