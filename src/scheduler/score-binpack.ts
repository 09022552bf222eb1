/**
 * Best fit, with Nomad's formula (ScoreFitBinPack, after Google's "BestFit
 * v3"): with f = the fraction of a resource still free after placing the task,
 * score = 20 − (10^f_cpu + 10^f_mem), clamped to [0, 18]. The exponent is
 * convex in what stays free, so a lot left free on either resource costs a
 * lot: tasks top up the fullest node that still fits, and a node full on CPU
 * but idle on memory scores below one half used on both (it would strand its
 * memory). Higher is better.
 */
import type { NodeInfo } from './node-info.js';
import type { Scratch } from './score-spread.js';

/**
 * A resource the node does not report (capacity 0) counts as entirely free: such
 * a node is the least attractive place to pack, not the most.
 */
function freeFraction(cap: number, used: number): number {
  return cap > 0 ? 1 - used / cap : 1;
}

/** 10^f as e^(f·ln 10): the same value to the last bits or so, and ~5x faster than `**` in V8, which matters at one score per node per group. */
const LN10 = Math.LN10;

export function binpackScore(capCpu: number, capMem: number, usedCpu: number, usedMem: number): number {
  const s = 20 - (Math.exp(freeFraction(capCpu, usedCpu) * LN10) + Math.exp(freeFraction(capMem, usedMem) * LN10));
  return s > 18 ? 18 : s < 0 ? 0 : s;
}

/** Score of the node if it took one more task reserving (cpu, mem). */
export function scoreAfter(info: NodeInfo, cpu: number, mem: number): number {
  return binpackScore(info.capCpu, info.capMem, info.usedCpu + cpu, info.usedMem + mem);
}

/**
 * Node order for binpack, with service anti-affinity as Nomad has it: fewest
 * tasks of the service first, so a service's replicas spread over the nodes
 * they fit on and one lost machine never takes the whole service down; among
 * nodes with as many of its tasks, the highest score (the fullest that fits),
 * which is where packing happens: across services, not within one. Then a
 * node that has the task's image (no pull), then fewest tasks and node id,
 * so the order is total (deterministic).
 */
export function binpackLess(s: Scratch, score: Float64Array): (a: number, b: number) => boolean {
  const { svc, rank, infos, img } = s;
  return (a, b) => {
    const ca = svc[a]!;
    const cb = svc[b]!;
    if (ca !== cb) return ca < cb;
    const sa = score[a]!;
    const sb = score[b]!;
    if (sa !== sb) return sa > sb;
    // Then a node that has the image: it starts the task without a pull.
    if (img[a] !== img[b]) return img[a]! > img[b]!;
    const ta = infos[a]!.tasks;
    const tb = infos[b]!.tasks;
    if (ta !== tb) return ta < tb;
    return rank[a]! < rank[b]!;
  };
}

/** Scores of one reservation shape (cpu, mem) per node slot, each valid while the node's stamp is unchanged. */
export interface ShapeScores {
  score: Float64Array;
  stamp: Float64Array;
}

/**
 * Binpack scores per reservation shape, kept across groups and batches. A
 * placement changes one node, so the next group of the same shape recomputes
 * one score instead of one per node: the two exponentials per node were most
 * of the cost of a group. Least recently used shapes are dropped past a cap.
 */
export class ScoreCache {
  private readonly shapes = new Map<string, ShapeScores>();
  constructor(private readonly maxShapes: number) {}

  shape(cpu: number, mem: number, slots: number): ShapeScores {
    const key = `${cpu}/${mem}`;
    let s = this.shapes.get(key);
    if (s !== undefined) {
      this.shapes.delete(key); // re-insert: Map order is the LRU order
      if (s.score.length < slots) s = grow(s, slots);
    } else {
      if (this.shapes.size >= this.maxShapes) this.shapes.delete(this.shapes.keys().next().value!);
      s = { score: new Float64Array(slots), stamp: new Float64Array(slots) };
    }
    this.shapes.set(key, s);
    return s;
  }

  get size(): number {
    return this.shapes.size;
  }
}

function grow(s: ShapeScores, slots: number): ShapeScores {
  const g = { score: new Float64Array(slots), stamp: new Float64Array(slots) };
  g.score.set(s.score);
  g.stamp.set(s.stamp);
  return g;
}

/** The node's score for the shape, recomputed only if the node changed since it was cached. */
export function cachedScore(s: ShapeScores, info: NodeInfo, cpu: number, mem: number): number {
  const slot = info.slot;
  if (s.stamp[slot] !== info.stamp) {
    s.score[slot] = scoreAfter(info, cpu, mem);
    s.stamp[slot] = info.stamp;
  }
  return s.score[slot]!;
}
