/**
 * Convergence after the faults stop: within the deadline, every service's
 * running task count equals its desired count (GET /services?status=true),
 * each slot has exactly one task the managers see running, and the task
 * processes actually alive (heartbeats) are exactly one per desired slot —
 * no stale copy left behind. Holds for two polls in a row.
 */
import type { ChaosCluster } from '../cluster.js';
import { sleep, type RunClock } from '../clock.js';
import type { BeatWatcher } from '../observe/beats.js';
import type { Verdict } from './verdict.js';

interface ServiceJson {
  ID: string;
  Spec: { Name: string };
  ServiceStatus?: { RunningTasks: number; DesiredTasks: number };
}
interface TaskJson {
  ID: string;
  ServiceID: string;
  Slot: number;
  Status: { State: string };
}

export async function checkConverged(c: ChaosCluster, clock: RunClock, beats: BeatWatcher | null, deadlineMs: number): Promise<Verdict & { ms: number | null }> {
  const t0 = clock.now();
  let last = 'no manager answered';
  let streak = 0;
  while (clock.now() - t0 < deadlineMs) {
    const why = await problems(c, beats);
    if (why === null) {
      if (++streak >= 2) {
        const ms = Math.round(clock.now() - t0);
        return { name: 'converged', pass: true, ms, summary: `every service at its desired count, one live task per slot, ${ms} ms after the faults stopped`, details: [] };
      }
    } else {
      streak = 0;
      last = why;
    }
    await sleep(500);
  }
  return { name: 'converged', pass: false, ms: null, summary: `not converged within ${deadlineMs} ms after the faults stopped`, details: [last] };
}

async function problems(c: ChaosCluster, beats: BeatWatcher | null): Promise<string | null> {
  const l = await c.leader();
  if (!l) return 'no leader';
  const sv = await c.api(l, 'GET', '/services?status=true', undefined, 3_000);
  const tk = await c.api(l, 'GET', '/tasks', undefined, 3_000);
  if (sv.kind !== 'ok' || tk.kind !== 'ok') return `the leader ${l.name} did not answer`;
  const services = sv.body as ServiceJson[];
  const tasks = tk.body as TaskJson[];
  let desiredTotal = 0;
  for (const s of services) {
    const st = s.ServiceStatus;
    if (!st) return `${s.Spec.Name}: no status`;
    desiredTotal += st.DesiredTasks;
    if (st.RunningTasks !== st.DesiredTasks) return `${s.Spec.Name}: ${st.RunningTasks}/${st.DesiredTasks} running`;
    const running = tasks.filter((t) => t.ServiceID === s.ID && t.Status.State === 'running');
    const slots = new Set(running.map((t) => t.Slot));
    if (slots.size !== running.length) return `${s.Spec.Name}: a slot has two running tasks`;
  }
  if (beats) {
    const live = beats.liveNow(1_500).length;
    if (live !== desiredTotal) return `${live} task processes alive, ${desiredTotal} desired`;
  }
  return null;
}
