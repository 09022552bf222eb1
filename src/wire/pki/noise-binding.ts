/**
 * Binding a Noise session (the hyperswarm transport) to a node certificate.
 * Noise authenticates each side's static public key; the cluster knows nodes
 * by certificate. So the first message each side sends on a new Noise
 * session is its certificate and a signature, made with the certificate's
 * key, over both static keys — its own first, the peer's second. The
 * receiver checks the certificate chains to a cluster root and is valid
 * now, and that the signature is over (the peer's Noise key, its own Noise
 * key). A binding copied from another session names other keys; one signed
 * by anyone but the certificate's holder does not verify. The peer's identity
 * is then the certificate's (CN node ID, OU role, O cluster), as on the ws
 * transport's mutual TLS.
 */
import { sign, verify, X509Certificate } from 'node:crypto';
import { identityOfSubject, splitPems, subjectOf, type CertIdentity } from './identity.js';

const CONTEXT = Buffer.from('shoal/noise-cert-binding/v1\0');

/** A node's certificate material for the binding: its key and certificate (PEM), and the roots it trusts (a PEM bundle). */
export interface BindingMaterial {
  key: string;
  cert: string;
  ca: string;
}

function signedBytes(senderNoiseKey: Uint8Array, receiverNoiseKey: Uint8Array): Buffer {
  return Buffer.concat([CONTEXT, senderNoiseKey, receiverNoiseKey]);
}

/** The first message this side sends on a Noise session: its certificate, and its signature over (its key, the peer's key). */
export function makeBinding(m: BindingMaterial, ownNoiseKey: Uint8Array, peerNoiseKey: Uint8Array): Buffer {
  const sig = sign('sha256', signedBytes(ownNoiseKey, peerNoiseKey), m.key);
  return Buffer.from(JSON.stringify({ v: 1, cert: m.cert, sig: sig.toString('base64') }));
}

/**
 * Checks the peer's first message: who it is, or why it is refused. `now`
 * in epoch ms (certificates are checked for validity at that time).
 */
export function checkBinding(message: Uint8Array, caBundle: string, peerNoiseKey: Uint8Array, ownNoiseKey: Uint8Array, now = Date.now()): CertIdentity | string {
  let parsed: { v?: unknown; cert?: unknown; sig?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(message).toString('utf8')) as typeof parsed;
  } catch {
    return 'the first message is not a certificate binding';
  }
  if (parsed?.v !== 1 || typeof parsed.cert !== 'string' || typeof parsed.sig !== 'string') return 'the first message is not a certificate binding';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(parsed.cert);
  } catch (err) {
    return `the certificate cannot be read: ${(err as Error).message}`;
  }
  const roots = splitPems(caBundle).map((p) => new X509Certificate(p));
  if (!roots.some((r) => cert.checkIssued(r) && cert.verify(r.publicKey))) return 'the certificate is not signed by a root of this cluster';
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return `the certificate is not valid now (valid ${cert.validFrom} to ${cert.validTo})`;
  if (!verify('sha256', signedBytes(peerNoiseKey, ownNoiseKey), cert.publicKey, Buffer.from(parsed.sig, 'base64'))) {
    return "the binding is not signed by the certificate's key for this Noise session";
  }
  const who = identityOfSubject(subjectOf(cert));
  return who ?? 'the certificate is not a node certificate';
}

