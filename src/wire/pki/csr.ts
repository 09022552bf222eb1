/**
 * A new node (or administrator) key and the PKCS#10 certificate request for
 * it, made with node:crypto alone.
 *
 * Why not @peculiar/x509, which issues every certificate (x509.ts): loading
 * it costs ~0.2-0.3 s of CPU (its ASN.1 schemas, reflect-metadata,
 * tsyringe), and a joining worker needs nothing else from it. The request
 * is one fixed shape: subject CN only, the ECDSA P-256 key, no attributes,
 * signed with ECDSA-SHA256. The managers read and verify it with the
 * library (x509.ts verifiedCsr), and take nothing from it but the key: the
 * subject of the certificate is theirs to write.
 */
import { generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generate = promisify(generateKeyPair);

/** DER: a length in short or long form. */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const sequence = (...parts: Buffer[]) => tlv(0x30, ...parts);
const OID_COMMON_NAME = Buffer.from([0x06, 0x03, 0x55, 0x04, 0x03]); // 2.5.4.3
const OID_ECDSA_SHA256 = Buffer.from([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]); // 1.2.840.10045.4.3.2
const VERSION_1 = Buffer.from([0x02, 0x01, 0x00]);
const NO_ATTRIBUTES = Buffer.from([0xa0, 0x00]); // [0] IMPLICIT SET OF Attribute, empty

function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

/** The DER of a CertificationRequest (RFC 2986) for `commonName`, signed by `privateKey`. */
export function certificationRequest(commonName: string, publicKey: KeyObject, privateKey: KeyObject): Buffer {
  const subject = sequence(tlv(0x31, sequence(OID_COMMON_NAME, tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const info = sequence(VERSION_1, subject, spki, NO_ATTRIBUTES);
  // node:crypto signs EC keys as a DER ECDSA-Sig-Value, the form X.509 wants.
  const signature = sign('sha256', info, privateKey);
  return sequence(info, sequence(OID_ECDSA_SHA256), tlv(0x03, Buffer.from([0x00]), signature));
}

/** A P-256 key (PKCS#8 PEM) and a request (PEM) for a certificate naming `name`. */
export async function createNodeKey(name: string): Promise<{ keyPem: string; csrPem: string }> {
  const { publicKey, privateKey } = await generate('ec', { namedCurve: 'P-256' });
  return {
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    csrPem: pem('CERTIFICATE REQUEST', certificationRequest(name, publicKey, privateKey)),
  };
}
