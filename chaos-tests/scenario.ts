/**
 * Named scenarios: which fault kinds a run draws from, with weights, and
 * whether it runs the service workload. `all` mixes every kind; the
 * selftest-* scenarios exist for the harness's own self-test against the
 * deliberately broken builds (node/break.ts).
 */
import { ChaosError } from './errors.js';
import { FAULT_KINDS, type FaultKind } from './faults/types.js';

export interface Scenario {
  name: string;
  description: string;
  weights: Partial<Record<FaultKind, number>>;
  /** Run the service workload (creates, updates, scales) and the task checkers. */
  services: boolean;
  /** The KV workload's shape (workload/kv.ts); mixed unless said otherwise. */
  kv?: 'mixed' | 'own-keys';
}

export const SCENARIOS: Record<string, Scenario> = {
  all: {
    name: 'all',
    description: 'every fault kind, mixed',
    weights: {
      'kill-worker': 3,
      'kill-leader': 2,
      'kill-follower': 1,
      'crash-managers': 1,
      'pause-worker': 2,
      'pause-leader': 2,
      'partition-minority': 2,
      'partition-leader': 2,
      'partition-asymmetric': 1,
      'clock-jump': 1,
      'disk-full': 1,
      'disk-full-leader': 1,
    },
    services: true,
  },
  'kill-workers': { name: 'kill-workers', description: 'SIGKILL and restart of workers', weights: { 'kill-worker': 1 }, services: true },
  'kill-managers': { name: 'kill-managers', description: 'SIGKILL and restart of managers, the leader among them, and of all managers at once', weights: { 'kill-leader': 3, 'kill-follower': 2, 'crash-managers': 1 }, services: true },
  pause: { name: 'pause', description: 'SIGSTOP/SIGCONT of workers and of the leader', weights: { 'pause-worker': 1, 'pause-leader': 1 }, services: true },
  partition: { name: 'partition', description: 'majority/minority, isolated leader and asymmetric partitions', weights: { 'partition-minority': 1, 'partition-leader': 1, 'partition-asymmetric': 1 }, services: true },
  clock: { name: 'clock', description: 'clock jumps in the leader', weights: { 'clock-jump': 1 }, services: true },
  disk: { name: 'disk', description: "a manager's data dir runs out of space (a follower's, or the leader's)", weights: { 'disk-full': 1, 'disk-full-leader': 1 }, services: true },
  'selftest-ack': { name: 'selftest-ack', description: 'self-test: leader kills and isolations against ack-before-commit', weights: { 'kill-leader': 1, 'partition-leader': 1 }, services: false, kv: 'own-keys' },
  'selftest-lose-tail': { name: 'selftest-lose-tail', description: 'self-test: all managers crash at once against lose-tail', weights: { 'crash-managers': 1 }, services: false },
};

/**
 * A scenario by name, or several joined with commas (`pause,partition,disk`):
 * their fault kinds are pooled (weights added), services run if any asks.
 */
export function scenarioByName(name: string): Scenario {
  const names = name.split(',').map((n) => n.trim());
  const found = names.map((n) => {
    const s = SCENARIOS[n];
    if (!s) throw new ChaosError('USAGE', `unknown scenario ${JSON.stringify(n)}; one of ${Object.keys(SCENARIOS).join(', ')} (or several joined with commas)`);
    return s;
  });
  if (found.length === 1) return found[0]!;
  if (found.some((s) => s.name.startsWith('selftest-'))) throw new ChaosError('USAGE', 'a selftest scenario runs on its own');
  const weights: Partial<Record<FaultKind, number>> = {};
  for (const s of found) for (const [k, w] of Object.entries(s.weights) as [FaultKind, number][]) weights[k] = (weights[k] ?? 0) + w;
  return { name: names.join(','), description: found.map((s) => s.description).join('; '), weights, services: found.some((s) => s.services) };
}

/** The kinds this cluster can run: worker faults need workers, disk-full needs root, manager faults need 3+ managers to keep a quorum. */
export function usableKinds(s: Scenario, topo: { managers: number; workers: number; disk: boolean }): { kinds: [FaultKind, number][]; dropped: string[] } {
  const kinds: [FaultKind, number][] = [];
  const dropped: string[] = [];
  for (const k of FAULT_KINDS) {
    const w = s.weights[k];
    if (!w) continue;
    if ((k === 'kill-worker' || k === 'pause-worker') && topo.workers === 0) dropped.push(`${k} (no workers)`);
    else if ((k === 'disk-full' || k === 'disk-full-leader') && !topo.disk) dropped.push(`${k} (needs root for a tmpfs)`);
    else if (k === 'kill-follower' && topo.managers < 2) dropped.push(`${k} (one manager)`);
    else kinds.push([k, w]);
  }
  return { kinds, dropped };
}
