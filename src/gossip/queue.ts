/**
 * The transmit-limited broadcast queue (memberlist's TransmitLimitedQueue):
 * membership news and user broadcasts waiting to be piggybacked on probes and
 * pushed by gossip rounds.
 *
 * - Least-transmitted first; among equals, newest first. Fresh news spreads
 *   fastest, and a message that already went out many times yields its place.
 * - Each message is sent at most `limit` times by this member
 *   (retransmitMult × ceil(log10(n + 1)), computed by the caller).
 * - A message about a member replaces any queued one about the same member
 *   (same key): only the latest state is worth spreading.
 *
 * Items live in buckets by transmit count; moving an item pushes it onto the
 * next bucket and leaves a stale slot behind, compacted lazily, so a take is
 * O(items examined) with no sorting.
 */
import type { GossipMessage } from './interface.js';

interface Item {
  key: string;
  msg: GossipMessage;
  size: number;
  transmits: number;
  bucket: number;
  live: boolean;
  user: boolean;
  onDone: (() => void) | undefined;
}

/** No message is smaller than this: stop filling a packet below it. */
const MIN_MESSAGE_BYTES = 16;
/** Bound on items examined per take (a queue of big items that do not fit must not cost O(queue) per packet). */
const MAX_SCAN = 512;

export class BroadcastQueue {
  private readonly byKey = new Map<string, Item>();
  private buckets: Item[][] = [[]];
  private stale: number[] = [0];
  /** Live items per bucket. */
  private live: number[] = [0];
  private users = 0;
  /** Scratch list reused by take (no allocation per packet). */
  private readonly picked: Item[] = [];

  /** Messages waiting. */
  get length(): number {
    return this.byKey.size;
  }

  get userLength(): number {
    return this.users;
  }

  /** True when some message has been transmitted fewer than `n` times. */
  hasFresherThan(n: number): boolean {
    const top = Math.min(n, this.live.length);
    for (let t = 0; t < top; t++) if (this.live[t]! > 0) return true;
    return false;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /**
   * Queues `msg` under `key`, replacing any message with that key. Returns
   * true when a queued message was replaced. `onDone` runs when the message
   * finished its retransmissions or was replaced.
   */
  enqueue(key: string, msg: GossipMessage, size: number, user = false, onDone?: () => void): boolean {
    const old = this.byKey.get(key);
    if (old) {
      this.remove(old);
      old.onDone?.();
    }
    const it: Item = { key, msg, size, transmits: 0, bucket: 0, live: true, user, onDone };
    this.byKey.set(key, it);
    this.buckets[0]!.push(it);
    this.live[0]!++;
    if (user) this.users++;
    return old !== undefined;
  }

  /**
   * Swaps the message queued under `key` for `msg`, keeping its transmit
   * count, or queues `msg` afresh when nothing is queued under `key`.
   */
  replace(key: string, msg: GossipMessage, size: number): void {
    const old = this.byKey.get(key);
    if (old && !old.user) {
      old.msg = msg;
      old.size = size;
      return;
    }
    this.enqueue(key, msg, size);
  }

  /**
   * Removes the live user broadcast with the most transmissions (the one that
   * has already done most of its spreading). Returns false when there is none.
   */
  evictOneUser(): boolean {
    for (let t = this.buckets.length - 1; t >= 0; t--) {
      const b = this.buckets[t]!;
      for (let i = 0; i < b.length; i++) {
        const it = b[i]!;
        if (it.live && it.bucket === t && it.user) {
          this.remove(it);
          it.onDone?.();
          return true;
        }
      }
    }
    return false;
  }

  /**
   * Appends to `out` the messages to piggyback in a packet with `budget` bytes
   * left, at most `maxCount` of them, counting one transmission for each and
   * dropping those that reached `limit`. Returns the bytes used.
   */
  take(budget: number, limit: number, maxCount: number, out: GossipMessage[]): number {
    if (this.byKey.size === 0 || budget < MIN_MESSAGE_BYTES || maxCount <= 0) return 0;
    const picked = this.picked;
    picked.length = 0;
    let remaining = budget;
    let scanned = 0;
    outer: for (let t = 0; t < this.buckets.length; t++) {
      const b = this.buckets[t]!;
      for (let i = b.length - 1; i >= 0; i--) {
        const it = b[i]!;
        if (!it.live || it.bucket !== t) continue;
        if (++scanned > MAX_SCAN) break outer;
        if (it.size <= remaining) {
          picked.push(it);
          remaining -= it.size;
          if (remaining < MIN_MESSAGE_BYTES || picked.length >= maxCount) break outer;
        }
      }
    }
    for (let i = 0; i < picked.length; i++) {
      const it = picked[i]!;
      out.push(it.msg);
      it.transmits++;
      if (it.transmits >= limit) {
        this.remove(it);
        it.onDone?.();
      } else {
        this.stale[it.bucket]!++;
        this.live[it.bucket]!--;
        it.bucket = it.transmits;
        while (this.buckets.length <= it.bucket) {
          this.buckets.push([]);
          this.stale.push(0);
          this.live.push(0);
        }
        this.buckets[it.bucket]!.push(it);
        this.live[it.bucket]!++;
      }
    }
    picked.length = 0;
    this.compact();
    return budget - remaining;
  }

  private remove(it: Item): void {
    if (!it.live) return;
    it.live = false;
    this.byKey.delete(it.key);
    this.stale[it.bucket]!++;
    this.live[it.bucket]!--;
    if (it.user) this.users--;
  }

  private compact(): void {
    for (let t = 0; t < this.buckets.length; t++) {
      const s = this.stale[t]!;
      const b = this.buckets[t]!;
      if (s >= 4 && s * 2 > b.length) {
        this.buckets[t] = b.filter((it) => it.live && it.bucket === t);
        this.stale[t] = 0;
      }
    }
    // Trim empty top buckets so scans stay short when the queue drains.
    while (this.buckets.length > 1) {
      const top = this.buckets.length - 1;
      const b = this.buckets[top]!;
      if (b.length !== this.stale[top]) break;
      this.buckets.pop();
      this.stale.pop();
      this.live.pop();
    }
  }
}
