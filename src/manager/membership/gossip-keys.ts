/**
 * Rotating the cluster's gossip key (`shoal swarm update --rotate-gossip-key`,
 * `POST /swarm/update?rotateGossipKey=true`), memberlist's three steps done
 * by the leader through the store:
 *   1+2. the new key becomes the primary and the old one stays accepted
 *        (ShoalGossipKeys = [new, old]); every agent session hears the ring
 *        at once and its node installs the new key and sends with it;
 *   3.   the old key is retired once every connected node says (in its
 *        heartbeats) that it sends with the new one — or after
 *        GOSSIP_KEY_MAX_GRACE_MS, for a node that never says: it gets the
 *        ring again when its session reopens.
 */
import { randomBytes } from 'node:crypto';
import type { Cluster } from '../../model/index.js';
import { gossipKeyId } from '../../protocol/dispatcher.js';

export const GOSSIP_KEY_MAX_GRACE_MS = 5 * 60_000;

/** The ring after a rotation began at `now` (ISO): a new primary, the old primary still accepted. */
export function rotateGossipKeys(c: Cluster, now: string): Pick<Cluster, 'ShoalGossipKey' | 'ShoalGossipKeys' | 'ShoalGossipRotatedAt'> {
  const key = randomBytes(32).toString('base64');
  const old = c.ShoalGossipKeys?.[0] ?? c.ShoalGossipKey;
  return { ShoalGossipKey: key, ShoalGossipKeys: old ? [key, old] : [key], ShoalGossipRotatedAt: now };
}

/** Whether the old key can go: every connected node sends with the primary, or the grace ran out. */
export function mayRetireOldGossipKey(c: Cluster, nodes: { keyId: string | undefined }[], nowMs: number): boolean {
  const keys = c.ShoalGossipKeys;
  if (!keys || keys.length < 2) return false;
  const since = c.ShoalGossipRotatedAt ? Date.parse(c.ShoalGossipRotatedAt) : 0;
  if (nowMs - since > GOSSIP_KEY_MAX_GRACE_MS) return true;
  const want = gossipKeyId(keys[0]!);
  return nodes.length > 0 && nodes.every((n) => n.keyId === want);
}
