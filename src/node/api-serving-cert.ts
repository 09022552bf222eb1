/**
 * A manager's API serving certificate, kept in its data dir so that a
 * restart serves the same one instead of signing a new one. Signing means
 * loading the X.509 library (@peculiar/x509: ~80 ms of module start-up on
 * a 2-core machine) and a key generation, on every manager start, while a
 * restart is exactly when a cluster wants its managers back fast.
 *
 * A kept certificate is served again only if Node's own parser finds it
 * still right: signed by the CA that signs now, for this node and cluster
 * with the API server role, naming exactly the addresses it must, before
 * its half-life (when it would be renewed anyway), and matching its key.
 * Anything else, or any doubt, and a new one is issued (and kept).
 *
 * The key sits beside the node's own key (tls/, 0700; the file 0600): it
 * guards no more than that one does.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { API_SERVER_ROLE, renewalAt, subjectOf } from '../wire/pki/identity.js';
import type { ApiServerIdentity, KeyPair } from '../wire/pki/x509.js';
import { tlsDir } from './tls-files.js';
import { writeFileDurably } from '../util/durable-file.js';

/** One spelling per address: Node prints IPv6 SANs expanded (0:0:0:0:0:0:0:1), callers write them short (::1). */
function canonicalIp(ip: string): string {
  return net.isIPv6(ip) ? new URL(`http://[${ip}]/`).hostname : ip;
}

/** The SAN list as a sorted set of `ip:…` and `dns:…`. */
function names(ips: string[], dnsNames: string[]): string {
  return [...new Set([...ips.map((i) => `ip:${canonicalIp(i)}`), ...dnsNames.map((d) => `dns:${d.toLowerCase()}`)])].sort().join(',');
}

function sanOf(cert: X509Certificate): string {
  const ips: string[] = [];
  const dns: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith('IP Address:')) ips.push(part.slice('IP Address:'.length));
    else if (part.startsWith('DNS:')) dns.push(part.slice('DNS:'.length));
    else if (part) return `unexpected:${part}`;
  }
  return names(ips, dns);
}

/** Why `kp` may not be served again for `want`, signed by `signerPem` (null: it may). */
export function servingCertStale(kp: KeyPair, signerPem: string, want: ApiServerIdentity, now = Date.now()): string | null {
  try {
    const cert = new X509Certificate(kp.certPem);
    const signer = new X509Certificate(signerPem);
    if (!cert.checkIssued(signer) || !cert.verify(signer.publicKey)) return 'not signed by the CA that signs now';
    if (!(now >= Date.parse(cert.validFrom) && now < renewalAt(kp.certPem))) return 'past its half-life (or not yet valid)';
    const s = subjectOf(cert);
    if (s['CN'] !== want.nodeId || s['OU'] !== API_SERVER_ROLE || s['O'] !== want.clusterId) return `issued to ${cert.subject.replace(/\n/g, ', ')}`;
    if (sanOf(cert) !== names(want.ips, want.dnsNames)) return 'it names other addresses';
    const der = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
    if (!der(createPublicKey(createPrivateKey(kp.keyPem))).equals(der(cert.publicKey))) return 'the key does not match the certificate';
    return null;
  } catch (err) {
    return `unreadable: ${(err as Error).message}`;
  }
}

const files = (dataDir: string) => ({ key: path.join(tlsDir(dataDir), 'api.key'), cert: path.join(tlsDir(dataDir), 'api.crt') });

export function loadServingCert(dataDir: string): KeyPair | null {
  const f = files(dataDir);
  if (!existsSync(f.key) || !existsSync(f.cert)) return null;
  try {
    return { keyPem: readFileSync(f.key, 'utf8'), certPem: readFileSync(f.cert, 'utf8') };
  } catch {
    return null;
  }
}

/** Key first: a crash between the two leaves a pair that fails the key check, never a usable mismatch. */
export function saveServingCert(dataDir: string, kp: KeyPair): void {
  const f = files(dataDir);
  mkdirSync(tlsDir(dataDir), { recursive: true, mode: 0o700 });
  writeFileDurably(f.key, kp.keyPem, 0o600);
  writeFileDurably(f.cert, kp.certPem, 0o644);
}
