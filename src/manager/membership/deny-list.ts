/**
 * The cluster's deny list: nodes removed with `shoal node rm`. Managers
 * already refuse any node their store does not hold; workers hold no store,
 * so the leader sends them this list over their sessions and they refuse
 * those nodes too. A certificate outlives its node's removal by at most its
 * lifetime (24 h unless CAConfig.NodeCertExpiry says otherwise), so an entry
 * is dropped once that much time has passed — the list stays bounded however
 * many nodes come and go.
 */
import type { Cluster } from '../../model/index.js';
import { DEFAULT_CA_OPTIONS } from '../../wire/pki/options.js';

/** How long a removal must be remembered: the longest a certificate issued before it stays valid (plus the backdating). */
export function denyRetentionMs(c: Cluster): number {
  const ns = c.Spec.CAConfig?.NodeCertExpiry;
  return (ns ? Math.round(ns / 1e6) : DEFAULT_CA_OPTIONS.nodeCertLifetimeMs) + DEFAULT_CA_OPTIONS.backdateMs;
}

/** The cluster with `nodeId` added to the deny list at `now` (ISO), and entries past their retention dropped. */
export function withRemovedNode(c: Cluster, nodeId: string, now: string): Cluster {
  const cutoff = Date.parse(now) - denyRetentionMs(c);
  const kept = (c.ShoalRemovedNodes ?? []).filter((e) => e.ID !== nodeId && Date.parse(e.At) >= cutoff);
  return { ...c, ShoalRemovedNodes: [...kept, { ID: nodeId, At: now }] };
}

/** The node IDs every node must refuse now. */
export function deniedNodes(c: Cluster | undefined, nowMs: number): string[] {
  if (!c?.ShoalRemovedNodes) return [];
  const cutoff = nowMs - denyRetentionMs(c);
  return c.ShoalRemovedNodes.filter((e) => Date.parse(e.At) >= cutoff).map((e) => e.ID);
}
