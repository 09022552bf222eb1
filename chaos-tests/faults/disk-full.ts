/** The tmpfs manager's data dir fills up (see disk.ts), then is freed. */
import type { FaultImpl } from './impl.js';

export const diskFull: FaultImpl = async ({ c, leader, log }) => {
  const n = c.diskNode();
  if (!n || !c.disk) return { skip: 'no tmpfs manager' };
  const bytes = c.disk.fill();
  log(`chaos: filled ${n.name}'s data dir (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
  return {
    targets: [n],
    affectsLeader: n === leader,
    workersLost: [],
    note: `${n.name} data dir full${n === leader ? ' (the leader)' : ''}`,
    heal: async () => c.disk!.free(),
  };
};
