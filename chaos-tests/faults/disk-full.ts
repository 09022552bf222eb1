/**
 * The tmpfs manager's data dir fills up (see disk.ts), then is freed.
 * disk-full-leader first hands leadership to that manager (a Raft
 * leadership transfer asked of the current leader over its control socket),
 * so the leader is the one whose writes start failing.
 */
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

export const diskFullLeader: FaultImpl = async (ctx) => {
  const { c } = ctx;
  const n = c.diskNode();
  if (!n || !c.disk) return { skip: 'no tmpfs manager' };
  const why = await c.transferLeadership(n);
  if (why) return { skip: why };
  const leader = await c.leader();
  if (leader !== n) return { skip: `${n.name} did not become the leader` };
  return diskFull({ ...ctx, leader: n });
};
