/**
 * Who a node certificate says its holder is, read from the subject Node's TLS
 * reports for a verified peer. Kept apart from x509.ts so the transport reads
 * identities without loading the X.509 library.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { PkiError } from './errors.js';

export type NodeRole = 'manager' | 'worker';

/** OU of an administrator's API client certificate: it names no node, so the cluster port treats it as no certificate. */
export const ADMIN_ROLE = 'admin';
/** OU of a manager's API serving certificate (never a client identity). */
export const API_SERVER_ROLE = 'api-server';

/** Who is calling the control API over TLS, from the verified client certificate. */
export interface ApiClientIdentity {
  /** CN: an administrator's name, or a manager's node ID. */
  name: string;
  role: 'admin' | 'manager';
  clusterId: string;
}

/**
 * Whether a verified client certificate may use the control API of cluster
 * `clusterId`: an administrator's, or a manager's (managers can already
 * change everything through Raft). A worker's certificate may not: a
 * compromised worker must not become a cluster administrator.
 */
export function apiClientOfSubject(subject: Record<string, string | string[] | undefined> | undefined, clusterId: string): ApiClientIdentity | string {
  const one = (v: string | string[] | undefined) => (typeof v === 'string' ? v : undefined);
  const name = one(subject?.['CN']);
  const role = one(subject?.['OU']);
  const cluster = one(subject?.['O']);
  if (!name || !cluster) return 'the client certificate names no holder or cluster';
  if (cluster !== clusterId) return `the client certificate is of cluster ${cluster}, not ${clusterId}`;
  if (role !== ADMIN_ROLE && role !== 'manager') return `the client certificate is a ${role ?? 'role-less'} certificate (${name}); the control API needs an admin certificate (shoal init writes one; shoal swarm admin-cert makes more)`;
  return { name, role, clusterId: cluster };
}

/** When a certificate starts and stops being valid (epoch ms), read with Node's own X.509 parser. */
export function certExpiry(certPem: string): { notBefore: number; notAfter: number } {
  const c = new X509Certificate(certPem);
  return { notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo) };
}

/**
 * When a certificate is renewed: at half its lifetime (SwarmKit's rule). A
 * node's certificate, a manager's API serving certificate, and whether a
 * kept one may still be served all go by it.
 */
export function renewalAt(certPem: string): number {
  const { notBefore, notAfter } = certExpiry(certPem);
  return notBefore + (notAfter - notBefore) / 2;
}

/** The subject as Node's TLS reports it ({CN, OU, O}), from X509Certificate's "K=V" lines. */
export function subjectOf(cert: X509Certificate): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of cert.subject.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export interface CertIdentity {
  /** CN */
  nodeId: string;
  /** OU */
  role: NodeRole;
  /** O */
  clusterId: string;
}

/** The identity in a certificate's subject as Node's TLS reports it ({CN, OU, O}); null unless it is a node certificate. */
export function identityOfSubject(subject: Record<string, string | string[] | undefined> | undefined): CertIdentity | null {
  if (!subject) return null;
  const one = (v: string | string[] | undefined) => (typeof v === 'string' ? v : undefined);
  const nodeId = one(subject['CN']);
  const role = one(subject['OU']);
  const clusterId = one(subject['O']);
  if (!nodeId || !clusterId || (role !== 'manager' && role !== 'worker')) return null;
  return { nodeId, role, clusterId };
}

/**
 * Why a message that names `claimed` as its sender is refused on a
 * connection whose certificate proved `peer` (null when it may): a node
 * speaks only for itself. On a connection nothing authenticated (a plain
 * transport in tests of one module) there is nothing to hold the claim to.
 */
export function impersonation(peer: { nodeId: string; authenticated: boolean }, claimed: string): string | null {
  if (!peer.authenticated || peer.nodeId === claimed) return null;
  return `this connection is node ${peer.nodeId}'s (its certificate says so); it cannot speak for node ${claimed}`;
}

/** SHA-256 of `data` as 50 lowercase base36 characters: the first part of a join token. */
export function digest36(data: string | Uint8Array): string {
  const h = BigInt('0x' + createHash('sha256').update(data).digest('hex'));
  return h.toString(36).padStart(50, '0').slice(-50);
}

/** The digest (digest36) of a certificate's DER: what a join token pins the cluster CA by. */
export function certDigest(certPem: string): string {
  try {
    return digest36(new X509Certificate(certPem).raw);
  } catch (err) {
    throw new PkiError('BAD_CERTIFICATE', `not a PEM certificate: ${(err as Error).message}`);
  }
}

/** The certificates of a PEM bundle, each as its own PEM (ending in a newline). */
export function splitPems(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)?.map((p) => (p.endsWith('\n') ? p : `${p}\n`)) ?? [];
}
