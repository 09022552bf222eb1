/**
 * Everything a simulation run varies, drawn from its seed: cluster size,
 * fault mix, network quality, core options (small windows, chunks and
 * snapshot intervals so the rare paths run often).
 */
import type { RaftOptions } from '../../../src/raft/options.js';
import type { Rng } from '../../../src/util/rng.js';

export interface Scenario {
  voters: number;
  spares: number;
  faultTicks: number;
  /** Ticks after healing within which a leader must be elected and a proposal commit everywhere. */
  livenessBound: number;
  net: { loss: number; dup: number; minDelay: number; maxDelay: number };
  maxLoss: number;
  faultEvery: [number, number];
  faults: {
    crash: boolean;
    pause: boolean;
    partition: boolean;
    asymmetric: boolean;
    membership: boolean;
    transfer: boolean;
    garbage: boolean;
  };
  options: Partial<RaftOptions>;
  snapshotEvery: number;
  maxFsyncDelay: number;
  earlyAppends: boolean;
  clients: number;
  keys: number;
  /** Fraction of gets served by ReadIndex (the rest go through the log). */
  readIndexGets: number;
  clientTimeoutTicks: number;
}

export interface ScenarioOverrides {
  faultTicks?: number;
  voters?: number;
}

export const STEPS_PER_TICK = 10;

export function drawScenario(rng: Rng, o: ScenarioOverrides = {}): Scenario {
  const voters = o.voters ?? rng.pick([3, 3, 3, 4, 5, 5, 7]);
  const spares = Math.min(7 - voters, rng.int(3));
  const pause = rng.chance(0.5);
  const checkQuorum = rng.chance(0.85);
  const maxLoss = rng.pick([0, 0.05, 0.1, 0.2, 0.3]);
  const options: Partial<RaftOptions> = {
    preVote: rng.chance(0.85),
    checkQuorum,
    // Lease reads assume no process pauses (a paused leader's lease clock
    // stops): only run them in scenarios without pauses.
    readOnly: checkQuorum && !pause && rng.chance(0.3) ? 'lease' : 'safe',
    maxInflightMsgs: rng.pick([1, 2, 4, 16, 256]),
    maxMsgBytes: rng.pick([1, 64, 256, 4096]),
    maxInflightBytes: rng.pick([0, 128, 4096]),
    snapshotChunkBytes: rng.pick([97, 512, 1 << 20]),
    keepEntries: rng.pick([0, 2, 10, 50]),
    maxUncommittedBytes: rng.pick([200, 1000, 1 << 20]),
    maxPendingReads: rng.pick([4, 4096]),
  };
  return {
    voters,
    spares,
    faultTicks: o.faultTicks ?? rng.range(150, 250),
    livenessBound: 250,
    net: { loss: rng.chance(0.5) ? 0 : maxLoss, dup: rng.pick([0, 0, 0.02, 0.1]), minDelay: 1, maxDelay: rng.pick([3, 10, 25]) },
    maxLoss,
    faultEvery: [3, rng.pick([10, 25, 40])],
    faults: {
      crash: rng.chance(0.7),
      pause,
      partition: rng.chance(0.7),
      asymmetric: rng.chance(0.4),
      membership: rng.chance(0.5),
      transfer: rng.chance(0.5),
      garbage: rng.chance(0.3),
    },
    options,
    snapshotEvery: rng.pick([5, 20, 60, 1_000_000]),
    maxFsyncDelay: rng.pick([0, 2, 8, 30]),
    earlyAppends: rng.chance(0.5),
    clients: rng.range(2, 5),
    keys: rng.range(1, 3),
    readIndexGets: rng.pick([0, 0.5, 1]),
    clientTimeoutTicks: rng.range(30, 60),
  };
}
