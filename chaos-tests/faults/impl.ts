/** The contract between the injector and each fault: inject now, return how to heal. */
import type { ChaosCluster, ChaosNode } from '../cluster.js';
import type { FaultEvent } from './types.js';

export interface Injected {
  targets: ChaosNode[];
  affectsLeader: boolean;
  workersLost: ChaosNode[];
  partition?: boolean;
  note: string;
  /** Undoes the fault (restart, SIGCONT, heal, reset the clock, free the disk). */
  heal(): Promise<void>;
}

export interface FaultContext {
  c: ChaosCluster;
  ev: FaultEvent;
  /** The leader just before injection, if any answered. */
  leader: ChaosNode | null;
  log: (msg: string) => void;
}

/** Injects a fault, or returns why it cannot be injected now (e.g. no leader to kill). */
export type FaultImpl = (ctx: FaultContext) => Promise<Injected | { skip: string }>;

/** Picks a candidate with the event's seeded number. */
export function pick<T>(ev: FaultEvent, xs: readonly T[]): T | undefined {
  return xs.length === 0 ? undefined : xs[ev.pick % xs.length];
}
