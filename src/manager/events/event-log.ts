/**
 * This manager's recent events, in Raft order, and the live subscribers to
 * new ones. Made from the store's watch, so a follower has the same events as
 * the leader at the same positions. Memory is bounded: the oldest events
 * are dropped past `capacity`; a resume from before what is held is refused
 * rather than served with a silent gap.
 */
import type { Store } from '../store/store.js';
import { eventsOf, type EngineEvent } from './event.js';

/** A position in the event stream: after event (index, seq). */
export interface EventPosition {
  index: number;
  seq: number;
}

export const DEFAULT_EVENT_CAPACITY = 20_000;

export function isAfter(e: EngineEvent, p: EventPosition): boolean {
  return e.RaftIndex > p.index || (e.RaftIndex === p.index && e.Seq > p.seq);
}

export class EventLog {
  private readonly ring: EngineEvent[] = [];
  private readonly subscribers = new Set<(e: EngineEvent) => void>();
  /** Events after this Raft index are complete here: everything below it may be missing (before this manager's start, a snapshot, the ring's end). */
  private completeAfter: number;
  private readonly unwatch: () => void;

  constructor(
    store: Store,
    private readonly capacity = DEFAULT_EVENT_CAPACITY,
  ) {
    this.completeAfter = store.index;
    this.unwatch = store.watch((changes, index, time) => {
      if (time === undefined) {
        // A snapshot replaced the state: what happened in between is not known here.
        this.completeAfter = index;
        return;
      }
      for (const e of eventsOf(changes, index, time)) this.push(e);
    });
  }

  private push(e: EngineEvent): void {
    this.ring.push(e);
    if (this.ring.length > this.capacity) {
      const dropped = this.ring.splice(0, this.ring.length - this.capacity);
      this.completeAfter = Math.max(this.completeAfter, dropped[dropped.length - 1]!.RaftIndex);
    }
    for (const s of this.subscribers) s(e);
  }

  /** Held events matching `keep`: after a position (null: all held). Throws when that position is older than what is held complete. */
  history(after: EventPosition | null, keep: (e: EngineEvent) => boolean): EngineEvent[] {
    if (after && after.index < this.completeAfter) {
      throw new EventGapError(`events after Raft index ${after.index} are no longer held by this manager (it holds those after ${this.completeAfter}); resume from a newer position or without one`);
    }
    return this.ring.filter((e) => (!after || isAfter(e, after)) && keep(e));
  }

  subscribe(fn: (e: EngineEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  close(): void {
    this.unwatch();
    this.subscribers.clear();
  }
}

export class EventGapError extends Error {
  override readonly name = 'EventGapError';
}
