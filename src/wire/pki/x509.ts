/**
 * The cluster's X.509 material, made with @peculiar/x509 on Node's WebCrypto
 * (no openssl at run time):
 *
 * - a root CA per cluster (`createRootCa`), whose certificate's SHA-256
 *   digest is the first part of every join token, so a joining node can tell
 *   it reached the cluster the token was made for;
 * - node keys and CSRs (`createNodeKey`): a node's private key never leaves
 *   it; managers sign what it proves it holds. The one exception to the
 *   library: csr.ts writes that one fixed request shape with node:crypto,
 *   so that a joining node need not load the library (~0.25 s of CPU); it
 *   is read and verified here, with the library;
 * - node certificates (`issueNodeCertificate`): CN = node ID, OU = role
 *   (manager | worker), O = cluster ID, chosen by the manager that signs —
 *   never read from the CSR, whose subject is ignored;
 * - a manager's certificate for serving the control API over TLS
 *   (`issueApiServerCertificate`) and administrators' client certificates
 *   for it (`issueAdminCertificate`, OU = admin: no use on the cluster port).
 *
 * Keys are ECDSA P-256: small certificates, fast handshakes, and what
 * SwarmKit uses.
 */
import { createHash, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { PkiError } from './errors.js';
import { DEFAULT_CA_OPTIONS, type CaOptions } from './options.js';
import { ADMIN_ROLE, API_SERVER_ROLE, type CertIdentity } from './identity.js';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const subtle = webcrypto.subtle;

/** A certificate and its private key, both PEM (the key PKCS#8). */
export interface KeyPair {
  certPem: string;
  keyPem: string;
}

async function keyPemOf(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importSigningKey(keyPem: string): Promise<CryptoKey> {
  try {
    return await subtle.importKey('pkcs8', x509.PemConverter.decode(keyPem)[0]!, ALG, false, ['sign']);
  } catch (err) {
    throw new PkiError('BAD_CERTIFICATE', `cannot read the CA key: ${(err as Error).message}`);
  }
}

function serial(): string {
  // 16 random bytes, first bit clear: a positive INTEGER, unique per certificate.
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f;
  return Buffer.from(b).toString('hex');
}

/** Distinguished-name values are ours (IDs, roles), but escape anyway so no value can add an attribute. */
function dnValue(v: string): string {
  return v.replace(/([,+"\\<>;=])/g, '\\$1');
}

/** A new root CA for cluster `clusterId`. */
export async function createRootCa(clusterId: string, opts: Partial<CaOptions> = {}, now = Date.now()): Promise<KeyPair> {
  const o = { ...DEFAULT_CA_OPTIONS, ...opts };
  const keys = (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=shoal-root-ca, O=${dnValue(clusterId)}`,
    notBefore: new Date(now - o.backdateMs),
    notAfter: new Date(now + o.rootLifetimeMs),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await keyPemOf(keys.privateKey) };
}

/** Made with node:crypto alone (csr.ts); re-exported for callers that load this module anyway. */
export { createNodeKey } from './csr.js';

/** Reads a CSR and checks its signature: the requester holds the key it asks a certificate for. */
async function verifiedCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (err) {
    throw new PkiError('BAD_CSR', `the certificate request cannot be read: ${(err as Error).message}`);
  }
  // A key that is no valid point makes verify() throw instead of answering false: the same refusal.
  const signed = await csr.verify().catch(() => false);
  if (!signed) throw new PkiError('BAD_CSR', 'the certificate request is not signed by its own key');
  return csr;
}

/** One leaf certificate signed by the cluster CA; every issuer below differs only in subject, lifetime and use. */
async function signLeaf(
  ca: KeyPair,
  publicKey: x509.PublicKey | CryptoKey,
  subject: string,
  lifetimeMs: number,
  usages: string[],
  extra: x509.Extension[],
  o: CaOptions,
  now: number,
): Promise<string> {
  const root = new x509.X509Certificate(ca.certPem);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: root.subject,
    notBefore: new Date(now - o.backdateMs),
    notAfter: new Date(now + lifetimeMs),
    signingKey: await importSigningKey(ca.keyPem),
    publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension(usages),
      await x509.AuthorityKeyIdentifierExtension.create(root, false),
      ...extra,
    ],
  });
  return cert.toString('pem');
}

/**
 * Signs a node certificate for the public key in `csrPem` (whose signature
 * must verify: the requester holds the key). The identity is the caller's
 * decision; the CSR's subject is ignored.
 */
export async function issueNodeCertificate(ca: KeyPair, csrPem: string, who: CertIdentity, opts: Partial<CaOptions> = {}, now = Date.now()): Promise<string> {
  const o = { ...DEFAULT_CA_OPTIONS, ...opts };
  const csr = await verifiedCsr(csrPem);
  const subject = `CN=${dnValue(who.nodeId)}, OU=${dnValue(who.role)}, O=${dnValue(who.clusterId)}`;
  return signLeaf(ca, csr.publicKey, subject, o.nodeCertLifetimeMs, [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], [], o, now);
}

/** Whom an API serving certificate is for, and the addresses it names (what a client may dial). */
export interface ApiServerIdentity {
  nodeId: string;
  clusterId: string;
  ips: string[];
  dnsNames: string[];
}

/**
 * A manager's certificate for serving the control API over TLS, with a key
 * made here and kept in memory: clients (the docker CLI with
 * DOCKER_TLS_VERIFY) check the address they dialled against its IP and DNS
 * names. The manager signs it for itself with the cluster CA it holds, so no
 * node can obtain a certificate naming another's address.
 */
export async function issueApiServerCertificate(
  ca: KeyPair,
  who: ApiServerIdentity,
  opts: Partial<CaOptions> = {},
  now = Date.now(),
): Promise<KeyPair> {
  const o = { ...DEFAULT_CA_OPTIONS, ...opts };
  const keys = (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names: x509.JsonGeneralName[] = [...[...new Set(who.ips)].map((value) => ({ type: 'ip' as const, value })), ...[...new Set(who.dnsNames)].map((value) => ({ type: 'dns' as const, value }))];
  const subject = `CN=${dnValue(who.nodeId)}, OU=${API_SERVER_ROLE}, O=${dnValue(who.clusterId)}`;
  const certPem = await signLeaf(ca, keys.publicKey, subject, o.nodeCertLifetimeMs, [x509.ExtendedKeyUsage.serverAuth], [new x509.SubjectAlternativeNameExtension(names, false)], o, now);
  return { certPem, keyPem: await keyPemOf(keys.privateKey) };
}

/**
 * An administrator's client certificate for the control API over TLS
 * (dockerd's --tlsverify model): CN = a name for the holder, OU = admin,
 * O = cluster. Signed for the key in `csrPem` when given (the key stays
 * with whoever asked), else for a key made here and returned with it (the
 * bundle `shoal init` writes).
 */
export async function issueAdminCertificate(
  ca: KeyPair,
  who: { name: string; clusterId: string; csrPem?: string },
  opts: Partial<CaOptions> = {},
  now = Date.now(),
): Promise<{ certPem: string; keyPem?: string }> {
  const o = { ...DEFAULT_CA_OPTIONS, ...opts };
  const subject = `CN=${dnValue(who.name)}, OU=${ADMIN_ROLE}, O=${dnValue(who.clusterId)}`;
  const usage = [x509.ExtendedKeyUsage.clientAuth];
  if (who.csrPem !== undefined) {
    const csr = await verifiedCsr(who.csrPem);
    return { certPem: await signLeaf(ca, csr.publicKey, subject, o.adminCertLifetimeMs, usage, [], o, now) };
  }
  const keys = (await subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  return { certPem: await signLeaf(ca, keys.publicKey, subject, o.adminCertLifetimeMs, usage, [], o, now), keyPem: await keyPemOf(keys.privateKey) };
}

/** The SHA-256 (hex) of the public key a CSR is for: the same key gives the same ID. */
export function publicKeyId(csrPem: string): string {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  return createHash('sha256').update(Buffer.from(csr.publicKey.rawData)).digest('hex');
}

