/**
 * Rotating the cluster's root CA (`docker swarm ca --rotate`, which raises
 * Spec.CAConfig.ForceRotate; `shoal swarm ca --rotate`), driven by the
 * leader through the store in three steps, each waiting for every ready
 * node to say (in its heartbeats) that it has done its part:
 *
 *   trust:  the new root is trusted beside the old one. Every agent session
 *           hears the two roots at once; its node adds the new one to what
 *           its TLS accepts. Certificates are still signed by the old root.
 *   issue:  once every ready node trusts both, managers sign with the new
 *           root. Sessions hear that the new root is the issuer; a node whose
 *           certificate another root signed renews it (CertRenew, over its
 *           current connection: nobody loses a session).
 *   done:   once every ready node holds a certificate of the new root, it
 *           replaces the CA. The old root is dropped from every node's trust,
 *           and the join tokens change (their first part is the CA digest),
 *           as in Swarm.
 *
 * A node that is down throughout keeps its old certificate and must join
 * again after the rotation (as in Swarm). Joins during a rotation get the
 * trust bundle and a certificate from whichever root signs at that moment.
 */
import type { Cluster } from '../../model/index.js';
import { certDigest } from '../../wire/pki/identity.js';
import { makeToken } from './tokens.js';
import { nodeSigner, trustedRoots } from './ca.js';

/** A root's short public name: the first 16 characters of its certificate's digest. */
export function rootId(certPem: string): string {
  return certDigest(certPem).slice(0, 16);
}

/** The name of a set of trusted roots: their root IDs, sorted and joined (order-free). */
export function trustId(rootsPem: string[]): string {
  return rootsPem
    .map(rootId)
    .sort()
    .join('+');
}

/** What one node's heartbeats said last. */
export interface CaReport {
  nodeId: string;
  trustId?: string | undefined;
  issuerId?: string | undefined;
}

/** The rotation's first step: `root` (a fresh CA of the same cluster) trusted beside the current one. */
export function beginCaRotation(root: { certPem: string; keyPem: string }, now: string): NonNullable<Cluster['ShoalCARotation']> {
  return { CertPem: root.certPem, KeyPem: root.keyPem, Phase: 'trust', StartedAt: now };
}

/**
 * The cluster object after the next step, or null while some ready node
 * has not done its part. `ready`: the IDs of the nodes that must report
 * (every node whose status is ready); `reports`: what the sessions said.
 */
export function advanceCaRotation(c: Cluster, ready: string[], reports: CaReport[]): Cluster | null {
  const r = c.ShoalCARotation;
  if (!r || !c.ShoalCA || ready.length === 0) return null;
  const byNode = new Map(reports.map((x) => [x.nodeId, x]));
  if (r.Phase === 'trust') {
    const want = trustId([c.ShoalCA.CertPem, r.CertPem]);
    if (!ready.every((id) => byNode.get(id)?.trustId === want)) return null;
    return { ...c, ShoalCARotation: { ...r, Phase: 'issue' } };
  }
  const want = rootId(r.CertPem);
  if (!ready.every((id) => byNode.get(id)?.issuerId === want)) return null;
  const digest = certDigest(r.CertPem);
  const { ShoalCARotation: _done, ...rest } = c;
  return { ...rest, ShoalCA: { CertPem: r.CertPem, KeyPem: r.KeyPem }, JoinTokens: { Worker: makeToken(digest), Manager: makeToken(digest) } };
}

/** What a session is told: the roots to trust, and which of them signs node certificates now. */
export function caTrustFrame(c: Cluster): { roots: string[]; issuer: string } | null {
  if (!c.ShoalCA) return null;
  return { roots: trustedRoots(c), issuer: rootId(nodeSigner(c).certPem) };
}
