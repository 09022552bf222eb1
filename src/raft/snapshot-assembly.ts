/**
 * Follower side of chunked InstallSnapshot: collects the chunks of one
 * snapshot in order. Chunks arrive over a lossy, reordering network, so the
 * receiver answers every chunk with how much it holds and the leader resends
 * from there; anything out of order is simply re-acknowledged.
 */
import type { SnapshotMeta } from './interface.js';

export type ChunkOutcome =
  | { kind: 'ack'; offset: number } // keep going from offset
  | { kind: 'done'; data: Uint8Array }
  | { kind: 'bad' }; // inconsistent chunk: dropped

export class SnapshotAssembly {
  private meta: SnapshotMeta | null = null;
  private total = 0;
  private received = 0;
  private chunks: Uint8Array[] = [];

  constructor(private readonly maxBytes: number) {}

  get index(): number {
    return this.meta?.index ?? 0;
  }

  reset(): void {
    this.meta = null;
    this.total = 0;
    this.received = 0;
    this.chunks = [];
  }

  add(meta: SnapshotMeta, offset: number, total: number, data: Uint8Array): ChunkOutcome {
    if (total > this.maxBytes || offset + data.length > total) return { kind: 'bad' };
    const same = this.meta !== null && this.meta.index === meta.index && this.meta.term === meta.term && this.total === total;
    if (!same) {
      // A different (usually newer) snapshot: start over, from its beginning.
      if (offset !== 0) return { kind: 'ack', offset: 0 };
      this.reset();
      this.meta = meta;
      this.total = total;
    }
    if (offset !== this.received) return { kind: 'ack', offset: this.received };
    if (data.length > 0) {
      // Copy: the chunk may be a view into a transport buffer that gets reused.
      this.chunks.push(data.slice());
      this.received += data.length;
    }
    if (this.received < this.total) return { kind: 'ack', offset: this.received };
    const out = new Uint8Array(this.total);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    this.reset();
    return { kind: 'done', data: out };
  }
}
