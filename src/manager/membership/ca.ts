/**
 * The managers' side of node identity: join tokens pin the cluster's root CA
 * by its digest, and the CA held in the Raft store signs node certificates
 * whose role is the store's, never the requester's say.
 */
import type { Cluster } from '../../model/index.js';
import { certDigest, type NodeRole } from '../../wire/pki/identity.js';
import { PkiError } from '../../wire/pki/errors.js';

// The X.509 library takes ~180 ms to load: only when a certificate is signed (a join, a renewal), not on every start.
const x509 = () => import('../../wire/pki/x509.js');
import { clusterDigest } from './tokens.js';

/** The first part of the cluster's join tokens. */
export function tokenDigest(c: Pick<Cluster, 'ShoalCA' | 'ShoalRootSecret'>): string {
  if (c.ShoalCA) return certDigest(c.ShoalCA.CertPem);
  if (c.ShoalRootSecret) return clusterDigest(c.ShoalRootSecret);
  throw new PkiError('NO_CA', 'the cluster has neither a CA nor a root secret: no join token can be made');
}

/** The cluster CA's certificate and key as the store holds them. */
export function caKeyPair(c: Cluster): { certPem: string; keyPem: string } {
  if (!c.ShoalCA) throw new PkiError('NO_CA', 'this cluster has no certificate authority');
  return { certPem: c.ShoalCA.CertPem, keyPem: c.ShoalCA.KeyPem };
}

/** The roots every node must trust now: the CA, and during a rotation the new root too (PEM, the CA first). */
export function trustedRoots(c: Cluster): string[] {
  if (!c.ShoalCA) return [];
  return c.ShoalCARotation ? [c.ShoalCA.CertPem, c.ShoalCARotation.CertPem] : [c.ShoalCA.CertPem];
}

/** Certificates as one PEM bundle (each on its own lines, whether or not its PEM ended with a newline). */
export function pemBundle(pems: string[]): string {
  return pems.map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
}

/** What signs node certificates now: the new root once every node trusts it, else the CA. */
export function nodeSigner(c: Cluster): { certPem: string; keyPem: string } {
  const r = c.ShoalCARotation;
  return r && r.Phase === 'issue' ? { certPem: r.CertPem, keyPem: r.KeyPem } : caKeyPair(c);
}

/** Signs a certificate for `nodeId` in `role`, for the key `csrPem` proves; its lifetime is the cluster's CAConfig.NodeCertExpiry (ns) when set. */
export async function signNode(c: Cluster, csrPem: string, nodeId: string, role: NodeRole): Promise<{ certificate: string; caCertificate: string }> {
  const ca = nodeSigner(c);
  const ns = c.Spec.CAConfig?.NodeCertExpiry;
  const certificate = await (await x509()).issueNodeCertificate(
    ca,
    csrPem,
    { nodeId, role, clusterId: c.ID },
    ns ? { nodeCertLifetimeMs: Math.round(ns / 1e6) } : {},
  );
  // The trust bundle, not just the signer: during a rotation a node must accept peers of both roots.
  return { certificate, caCertificate: pemBundle(trustedRoots(c)) };
}
