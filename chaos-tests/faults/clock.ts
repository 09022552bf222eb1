/**
 * A clock jump in one process: the leader's clock (the one that stamps
 * objects and drives the orchestrator's time-based decisions) is moved by
 * minutes to an hour, either way, then put back — like a bad NTP step and
 * its correction. Timers keep real time (node/control-server.ts).
 */
import { pick, type FaultImpl } from './impl.js';

const JUMPS_MS = [-3_600_000, -600_000, -60_000, 60_000, 600_000, 3_600_000];

export const clockJump: FaultImpl = async ({ c, ev, leader }) => {
  const target = leader ?? pick(ev, c.managers().filter((m) => c.up(m)));
  if (!target) return { skip: 'no manager answers' };
  const offsetMs = pick(ev, JUMPS_MS)!;
  const r = await c.control(target, { cmd: 'clock', offsetMs });
  if (!r?.ok) {
    // It may have taken it after all: put it back rather than leave an unrecorded jump behind.
    await c.control(target, { cmd: 'clock', offsetMs: 0 });
    return { skip: `${target.name} did not take the clock command` };
  }
  return {
    targets: [target],
    affectsLeader: false,
    workersLost: [],
    note: `${target.name} clock ${offsetMs > 0 ? '+' : ''}${offsetMs / 1000} s`,
    heal: async () => {
      await c.control(target, { cmd: 'clock', offsetMs: 0 });
    },
  };
};
