/**
 * Swarm's node order: fewest tasks of the service on the node, then a node
 * that has the task's image, then fewest tasks overall, then node id (so the result never depends on the order
 * nodes were added in). Used by the spread strategy, and by binpack for tasks
 * that reserve nothing (best fit means nothing when nothing is reserved).
 */
import type { NodeInfo } from './node-info.js';

/** Per-slot arrays one batch shares between groups (indexed by NodeInfo.slot). */
export interface Scratch {
  /** Tasks of the current group's service on the node. */
  svc: Int32Array;
  /** Position of the node in id order. */
  rank: Int32Array;
  /** 1 where the node has the current group's image. */
  img: Uint8Array;
  infos: (NodeInfo | undefined)[];
}

export function spreadLess(s: Scratch): (a: number, b: number) => boolean {
  const { svc, rank, infos, img } = s;
  return (a, b) => {
    const ca = svc[a]!;
    const cb = svc[b]!;
    if (ca !== cb) return ca < cb;
    // Then a node that has the image: it starts the task without a pull.
    if (img[a] !== img[b]) return img[a]! > img[b]!;
    const ta = infos[a]!.tasks;
    const tb = infos[b]!.tasks;
    if (ta !== tb) return ta < tb;
    return rank[a]! < rank[b]!;
  };
}
