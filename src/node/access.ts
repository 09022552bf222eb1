/**
 * Who may send what to a node, by the identity its certificate proved (the
 * ws transport's authorizer; connection.ts drops and counts what it refuses,
 * answering requests PERMISSION_DENIED):
 *
 * - a peer with no certificate may only ask for the CA certificate and join
 *   (with a token): that is how a node gets its certificate;
 * - a certificate must be of this cluster (a CA rotation keeps the cluster ID);
 * - Raft, membership changes, the followers' lease reports, task logs and
 *   node logs (a manager asking a worker) need a manager certificate;
 * - everything else (sessions, heartbeats, status, lease renewals, gossip)
 *   needs any node certificate of this cluster. Those handlers also hold the
 *   node a message speaks for to the certificate (wire/pki/identity.ts);
 * - a node removed from the cluster (`shoal node rm`) is refused whatever
 *   certificate it still holds: the managers' store is the deny list, so
 *   every manager enforces it (workers hold no store; they only ever accept
 *   task-log requests from managers).
 */
import type { Authorizer } from '../wire/interface.js';
import { RaftWire } from '../raft/transport.js';
import { CaCertificate, Join, MembershipChange } from '../protocol/membership.js';
import { LeaseReport } from '../protocol/lease.js';
import { NodeLogs, TaskLogs } from '../protocol/logs.js';

const ANONYMOUS = new Set<string>([CaCertificate.name, Join.name]);
const MANAGERS_ONLY = new Set<string>([RaftWire.name, MembershipChange.name, LeaseReport.name, TaskLogs.name, NodeLogs.name]);

export function nodeAccessPolicy(clusterId: () => string, removed: (nodeId: string) => boolean = () => false): Authorizer {
  return (peer, type) => {
    if (!peer.authenticated) return ANONYMOUS.has(type) ? null : `${type} needs a node certificate of this cluster; this peer presented none`;
    const cluster = clusterId();
    if (peer.clusterId !== cluster) return `the certificate is of cluster ${peer.clusterId ?? '(none)'}, not ${cluster}`;
    if (removed(peer.nodeId)) return `node ${peer.nodeId} was removed from the cluster; its certificate is no longer accepted`;
    if (MANAGERS_ONLY.has(type) && peer.role !== 'manager') return `${type} is for managers; node ${peer.nodeId}'s certificate is a ${peer.role ?? 'unknown'}'s`;
    return null;
  };
}
