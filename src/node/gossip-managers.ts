import type { MemberRecord } from '../gossip/interface.js';

/**
 * The cluster addresses of the managers the gossip member list sees alive:
 * the agent session's candidates beyond the managers it was told of (the
 * join reply, the last session frame), so a worker whose known managers are
 * all gone still finds one that joined later.
 */
export function aliveManagerAddrs(members: readonly MemberRecord[]): string[] {
  return [...new Set(members.filter((m) => m.role === 'manager' && m.state === 'alive' && m.clusterAddr).map((m) => m.clusterAddr))];
}
