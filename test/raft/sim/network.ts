/**
 * Simulated network between nodes: per-message random delay (so reordering),
 * loss, duplication, and directed link cuts (symmetric partitions are two
 * cuts, asymmetric ones a single cut). Time is in simulation steps.
 */
import type { Message, NodeId } from '../../../src/raft/interface.js';
import type { Rng } from '../../../src/util/rng.js';

export interface NetConfig {
  loss: number;
  dup: number;
  minDelay: number;
  maxDelay: number;
}

export class SimNetwork {
  private readonly cut = new Set<string>();
  sent = 0;
  lost = 0;
  duplicated = 0;

  constructor(
    private readonly rng: Rng,
    public cfg: NetConfig,
    /** Schedules delivery of `m` after `delay` steps. */
    private readonly schedule: (m: Message, delay: number) => void,
  ) {}

  send(m: Message): void {
    this.sent++;
    if (this.cut.has(key(m.from, m.to))) return void this.lost++;
    if (this.rng.chance(this.cfg.loss)) return void this.lost++;
    this.schedule(m, this.delay());
    if (this.rng.chance(this.cfg.dup)) {
      this.duplicated++;
      // A late duplicate is a replay: it may arrive long after the original.
      this.schedule(m, this.delay() + (this.rng.chance(0.3) ? this.rng.int(200) : 0));
    }
  }

  /** Whether a message in flight may still be delivered (links cut meanwhile drop it). */
  linkUp(from: NodeId, to: NodeId): boolean {
    return !this.cut.has(key(from, to));
  }

  private delay(): number {
    return this.rng.range(this.cfg.minDelay, this.cfg.maxDelay);
  }

  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(key(from, to));
  }

  partition(a: NodeId[], b: NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cutLink(x, y);
        this.cutLink(y, x);
      }
    }
  }

  heal(): void {
    this.cut.clear();
  }

  get cutCount(): number {
    return this.cut.size;
  }
}

function key(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
