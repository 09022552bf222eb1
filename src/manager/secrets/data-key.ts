/**
 * The cluster data key: 32 random bytes made by the founding manager at
 * `shoal init`, held by every manager (<dataDir>/tls/data.key, handed over in
 * the mutual-TLS Join / CertRenew answer) and by no worker. Secret and config
 * data, and the cluster CA's private key, are sealed with it (AES-256-GCM)
 * before they are proposed, so the Raft log, its snapshots and every sqlite
 * file hold only ciphertext.
 *
 * The GCM associated data names the object the blob belongs to
 * (`shoal/secret/<id>`), so a blob copied onto another object (or from a
 * config onto a secret) fails to open instead of decrypting as that object.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretsError } from './errors.js';

export const DATA_KEY_BYTES = 32;
/** Versioned, so a later key rotation can tell blobs apart. */
const PREFIX = 'shoal-sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class DataKey {
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== DATA_KEY_BYTES) throw new SecretsError('BAD_KEY', `a data key is ${DATA_KEY_BYTES} bytes, not ${key.length}`);
    this.key = Buffer.from(key);
  }

  static generate(): DataKey {
    return new DataKey(randomBytes(DATA_KEY_BYTES));
  }

  static fromBase64(s: string): DataKey {
    return new DataKey(Buffer.from(s.trim(), 'base64'));
  }

  toBase64(): string {
    return this.key.toString('base64');
  }

  /** `shoal-sealed:v1:` + base64(iv | tag | ciphertext), bound to `aad`. */
  seal(aad: string, plain: Uint8Array): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([c.update(plain), c.final()]);
    return PREFIX + Buffer.concat([iv, c.getAuthTag(), ct]).toString('base64');
  }

  open(aad: string, sealed: string): Buffer {
    if (!isSealed(sealed)) throw new SecretsError('UNSEALABLE', `${aad}: not a sealed blob`);
    const raw = Buffer.from(sealed.slice(PREFIX.length), 'base64');
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretsError('UNSEALABLE', `${aad}: sealed blob too short`);
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, IV_BYTES));
      d.setAAD(Buffer.from(aad, 'utf8'));
      d.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([d.update(raw.subarray(IV_BYTES + TAG_BYTES)), d.final()]);
    } catch {
      throw new SecretsError('UNSEALABLE', `${aad}: the sealed data does not open with this cluster's data key (tampered, or another object's)`);
    }
  }
}

export function isSealed(s: string | undefined): s is string {
  return typeof s === 'string' && s.startsWith(PREFIX);
}

/** What a sealed object's blob is bound to. */
export function aadFor(kind: 'secret' | 'config', id: string): string {
  return `shoal/${kind}/${id}`;
}

/** The CA private key's binding: its cluster. */
export function caKeyAad(clusterId: string): string {
  return `shoal/cluster/${clusterId}/ca-key`;
}
