/**
 * What the allocators (network-alloc.ts, task-host-ports.ts) see of a
 * transaction being applied: the objects as it left them so far, and the
 * address index with this transaction's claims. Its own file so the two
 * allocators share it without importing each other.
 */
import type { AnyObject, Kind, ObjectOf } from './commands.js';

export interface AllocStage {
  get(kind: Kind, id: string): AnyObject | undefined;
  /** Every object of a kind as this transaction sees it. */
  list<K extends Kind>(kind: K): ObjectOf[K][];
  put(kind: Kind, o: AnyObject, action: 'create' | 'update'): void;
  /** Held by a committed object, or claimed earlier in this transaction. */
  addrUsed(net: string, ip: number): boolean;
  claim(net: string, ip: number): void;
}
