/**
 * Reading a node's trust bundle and certificate the way a CA rotation needs
 * (manager/membership/ca-rotation.ts): which roots a PEM bundle holds, and
 * which of them signed a certificate. Node's own X.509 parser: no library load.
 */
import { X509Certificate } from 'node:crypto';
import { rootId, trustId } from '../manager/membership/ca-rotation.js';
import { splitPems } from '../wire/pki/identity.js';


/** The root ID of the root in `roots` whose key signed `certPem`; undefined when none did. */
export function issuerRootId(certPem: string, roots: string[]): string | undefined {
  const cert = new X509Certificate(certPem);
  for (const r of roots) {
    try {
      if (cert.verify(new X509Certificate(r).publicKey)) return rootId(r);
    } catch {
      // not this one
    }
  }
  return undefined;
}

/** What a node's heartbeats say: the roots it trusts, and the root of its certificate. */
export function caReportOf(certPem: string, caBundle: string): { caTrustId: string; certIssuerId?: string } {
  const roots = splitPems(caBundle);
  const issuer = issuerRootId(certPem, roots);
  return { caTrustId: trustId(roots), ...(issuer ? { certIssuerId: issuer } : {}) };
}
