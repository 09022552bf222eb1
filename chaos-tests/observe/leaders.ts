/**
 * Polls every manager's Raft view through its chaos control socket a few
 * times a second: who leads, in which term, how far each has applied. From
 * this comes the "managers agree again" time after a partition heals.
 * (Election safety is judged from the Raft logs instead: checkers/elections.ts.)
 */
import { Sampler } from './sampler.js';
import type { ChaosCluster } from '../cluster.js';
import type { RaftView } from '../control.js';
import type { RunClock } from '../clock.js';

export interface LeaderSample {
  t: number;
  /** Per manager name: its view, or null when it did not answer (down, paused). */
  views: Map<string, RaftView | null>;
}

export class LeaderWatcher extends Sampler {
  readonly samples: LeaderSample[] = [];

  constructor(
    private readonly c: ChaosCluster,
    private readonly clock: RunClock,
    everyMs = 250,
  ) {
    super(everyMs);
  }

  protected tick(): Promise<LeaderSample> {
    return this.sample();
  }

  async sample(): Promise<LeaderSample> {
    const ms = this.c.managers();
    const st = await Promise.all(ms.map((m) => this.c.status(m, 600)));
    const s: LeaderSample = { t: this.clock.now(), views: new Map(ms.map((m, i) => [m.name, st[i]?.raft ?? null])) };
    this.samples.push(s);
    return s;
  }

}

/**
 * Managers agree: every one answers, they name the same leader in the same
 * term, and each has applied at least `commit` (the leader's commit index
 * when the fault healed).
 */
export function agree(s: LeaderSample, commit: number): boolean {
  const vs = [...s.views.values()];
  if (vs.length === 0 || vs.some((v) => v === null)) return false;
  const first = vs[0]!;
  return first.leaderId !== null && vs.every((v) => v!.leaderId === first.leaderId && v!.term === first.term && v!.applied >= commit);
}
