import { defineMessage } from '../wire/registry.js';
import { array, bool, object, optional, str, uint } from '../wire/schema.js';

/**
 * The fencing lease on the wire (core.ts has the protocol).
 *
 * - `lease.renew` — a node's supervisor to any manager, every renewal
 *   period. `granted` extends the node's lease to (send time + fenceMs);
 *   a refusal says why.
 * - `lease.report` — a follower to the leader, every renewal period: the
 *   nodes it granted renewals to and how long ago, and the revocation list
 *   version it holds. The reply is the leader's revocation list; its arrival
 *   is the follower's token to keep granting for tokenMs.
 */
const id = str({ min: 1, max: 128 });

/**
 * R, the renewal period both sides keep: a node's supervisor renews with
 * every manager this often, and followers report their grants to the leader
 * this often (the managers' lease options and the supervisor's options both
 * default to it). 200 ms, a fifth of the default fence period (F, 1 s):
 * - a live node renews 5 times per period with each manager, so four lost or
 *   late renewals in a row, or a manager stalled for F - R = 800 ms, still
 *   cost nothing;
 * - healing does not wait on R: a dead node's last contact is up to R BEFORE
 *   its death, and the down decision counts from that contact;
 * - renewals are nearly all of an idle cluster's wire traffic (every node's
 *   supervisor to every manager): at 100 ms an idle 3+2 cluster spent ~40 %
 *   more CPU (npm run bench:idle, 369 against 265 ms of CPU per second).
 */
export const LEASE_RENEW_EVERY_MS = 200;

/**
 * `tasks`: the renewing supervisor holds tasks. `soleManager` on a grant: the
 * granting manager is the cluster's only voter and runs on the renewing node
 * (manager/lease/sole-manager.ts says what a supervisor may do with that);
 * `marginMs` with it: the managers' down-decision margin.
 */
export const LeaseRenew = defineMessage({
  name: 'lease.renew',
  version: 1,
  body: object({ nodeId: id, tasks: optional(bool()) }),
  response: object({ granted: bool(), fenceMs: uint(), reason: optional(str({ max: 512 })), soleManager: optional(bool()), marginMs: optional(uint()) }),
  samples: () => [{ nodeId: 'n1' }, { nodeId: 'n1', tasks: true }],
  responseSamples: () => [{ granted: true, fenceMs: 1000 }, { granted: true, fenceMs: 1000, soleManager: true, marginMs: 100 }, { granted: false, fenceMs: 1000, reason: 'revoked' }],
});

export const LeaseReport = defineMessage({
  name: 'lease.report',
  version: 1,
  body: object({
    from: id,
    contacts: array(object({ node: id, agoMs: uint() }), { max: 100_000 }),
    term: uint(),
    version: uint(),
  }),
  response: object({ term: uint(), version: uint(), revoked: array(id, { max: 100_000 }) }),
  samples: () => [{ from: 'm2', contacts: [{ node: 'n1', agoMs: 120 }], term: 5, version: 3 }],
  responseSamples: () => [{ term: 5, version: 4, revoked: ['n7'] }],
});

export interface LeaseReportBody {
  from: string;
  contacts: { node: string; agoMs: number }[];
  /** The Raft term and revocation-list version of the last acknowledgement this follower applied. */
  term: number;
  version: number;
}

export interface LeaseReportAck {
  term: number;
  version: number;
  revoked: string[];
}
