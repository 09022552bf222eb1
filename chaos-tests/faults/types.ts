/** What the fault schedule is made of, and what the injector records for each fault it carried out. */

export const FAULT_KINDS = [
  'kill-worker',
  'kill-leader',
  'kill-follower',
  'crash-managers',
  'pause-worker',
  'pause-leader',
  'partition-minority',
  'partition-leader',
  'partition-asymmetric',
  'clock-jump',
  'disk-full',
  'disk-full-leader',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** One planned fault: a pure function of the seed (targets are resolved when it is injected). */
export interface FaultEvent {
  seq: number;
  /** Planned start, ms after the fault phase began (later if the previous fault is still healing). */
  at: number;
  kind: FaultKind;
  holdMs: number;
  /** A seeded number that picks among the candidates at injection time (which worker, which side). */
  pick: number;
}

/** A fault as carried out. Times are on the run clock (ms). */
export interface FaultRecord {
  seq: number;
  kind: FaultKind;
  /** Names of the nodes the fault acted on. */
  targets: string[];
  /** The leader just before injection (name), if one was known. */
  leaderBefore: string | null;
  /** The leader lost its ability to lead (killed, paused, cut off, out of space…): failover is measured. */
  affectsLeader: boolean;
  /** Workers cut off from the managers, killed or paused: rescheduling is measured. */
  workersLost: string[];
  /** The fault is a partition: the time until the managers agree again after heal is measured. */
  partition: boolean;
  injectAt: number;
  healAt: number;
  /** Heal done (a killed node restarted and running again). */
  readyAt: number;
  note: string;
  /** Set when the fault could not be injected (then not counted). */
  skipped?: string;
}
