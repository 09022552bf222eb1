import { defineMessage } from '../wire/registry.js';
import { array, object, oneOf, optional, str } from '../wire/schema.js';

/**
 * Joining and managing membership over the cluster port. Requests go to the
 * leader; a follower answers NOT_LEADER naming it, and the caller retries
 * there.
 */

const id = str({ min: 1, max: 128 });
const addr = str({ min: 1, max: 300 });

export const Join = defineMessage({
  name: 'membership.join',
  version: 1,
  body: object({ token: str({ max: 200 }), nodeId: id, hostname: str({ max: 255 }), clusterAddr: addr, gossipAddr: addr }),
  response: object({
    clusterId: id,
    nodeId: id,
    role: oneOf(['worker', 'manager'] as const),
    gossipKey: str({ max: 100 }),
    managers: array(object({ nodeId: id, addr }), { max: 64 }),
  }),
  samples: () => [{ token: 'SWMTKN-1-x-y', nodeId: 'n2', hostname: 'h2', clusterAddr: '127.0.0.2:4242', gossipAddr: '127.0.0.2:4242' }],
  responseSamples: () => [{ clusterId: 'c1', nodeId: 'n2', role: 'worker' as const, gossipKey: 'k', managers: [{ nodeId: 'm1', addr: '127.0.0.1:4242' }] }],
});

export interface JoinResponse {
  clusterId: string;
  nodeId: string;
  role: 'worker' | 'manager';
  gossipKey: string;
  managers: { nodeId: string; addr: string }[];
}

/** Membership changes a follower's API forwards to the leader. */
export const MembershipChange = defineMessage({
  name: 'membership.change',
  version: 1,
  body: object({ action: oneOf(['promote', 'demote', 'remove', 'remove-force'] as const), nodeId: id, note: optional(str({ max: 200 })) }),
  response: object({ done: oneOf(['ok'] as const) }),
  samples: () => [{ action: 'promote' as const, nodeId: 'n2' }],
  responseSamples: () => [{ done: 'ok' as const }],
});
