import type { LeaderHint } from '../util/errors.js';
import type { ManagerStatusInfo } from './interface.js';

/** A non-leader's refusal: what it says, and the leader it knows as data (util/errors.ts). */
export function notLeaderRefusal(st: Pick<ManagerStatusInfo, 'managers' | 'leaderId'>): { message: string; leader: LeaderHint | null } {
  const l = st.managers.find((m) => m.nodeId === st.leaderId);
  return l
    ? { message: `not the leader; the leader is ${l.nodeId} at ${l.addr}`, leader: { nodeId: l.nodeId, addr: l.addr || null } }
    : { message: 'not the leader; no leader known', leader: null };
}
