/**
 * The chaos harness's composition root for a node: the daemon's hooks
 * (src/node/hooks.ts) filled with the harness's fault injection.
 *
 * - a FaultController on the cluster transport and gossip's packet filter
 *   (partitions, link faults), driven over the control socket;
 * - a wall clock the control socket can shift (clock jumps);
 * - with SHOAL_CHAOS_BREAK, a deliberately broken build for the self-test
 *   (break.ts): acknowledging before commit, or a lying disk.
 *
 * Only the harness's entry point (chaos-tests/cli/main.ts) installs them.
 */
import type { DaemonHooks, DaemonHooksFactory } from '../../src/node/hooks.js';
import { breakMode, breakRaftSync, brokenApiContext, loseTail, type BreakMode } from './break.js';
import { ChaosControl } from './control-server.js';

export function chaosHooks(env: NodeJS.ProcessEnv = process.env): DaemonHooksFactory {
  // Read once, before any node starts: a bad mode fails the command, not the node later.
  const brk: BreakMode | null = breakMode(env);
  return (nodeId, dataDir, logger): DaemonHooks => {
    // The harness's own records: component=chaos, at warn, so they stand out in a node's log.
    const chaosLog = logger.child({ component: 'chaos' });
    const log = (msg: string) => chaosLog.warn(msg);
    const chaos = new ChaosControl(nodeId, dataDir, log);
    if (brk) log(`DELIBERATELY BROKEN BUILD for the chaos self-test: SHOAL_CHAOS_BREAK=${env.SHOAL_CHAOS_BREAK}`);
    const raftSync = breakRaftSync(brk);
    return {
      transport: (t) => chaos.faults.install(t),
      gossipPacketFilter: chaos.gossipFilter(),
      wallClock: chaos.wallClock,
      beforeManager: (dir) => loseTail(dir, brk, log),
      ...(raftSync ? { raftSync } : {}),
      apiContext: (ctx) => brokenApiContext(ctx, brk, log),
      started: async (node) => {
        chaos.membersOf = () => node.gossipMembers();
        chaos.transferTo = (to) => node.transferLeadership(to);
        chaos.statusOf = () => ({ role: node.role, raft: node.raftStatus() });
        await chaos.listen();
      },
      stopping: () => chaos.close(),
    };
  };
}
