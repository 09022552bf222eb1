import { ShoalError } from '../util/errors.js';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * The cluster gossip keys. Every gossip datagram and push-pull state is
 * sealed with AES-256-GCM under the primary key; anything is opened with
 * whichever key of the ring fits, so keys rotate without downtime (the
 * memberlist procedure):
 *   1. install the new key on every node (it decrypts, nothing encrypts with it);
 *   2. make it primary on every node (now everyone sends with it, and still
 *      reads the old one from nodes not yet switched);
 *   3. remove the old key everywhere.
 *
 * Sealed layout: version u8 | key hint u8 (the key's first byte, so the
 * right key is usually tried first) | nonce (12) | ciphertext | tag (16);
 * version and hint are authenticated as additional data.
 */
export class KeyringError extends ShoalError<'INVALID_KEY'> {
  override readonly name = 'KeyringError';
  readonly ns = 'gossip';
  constructor(message: string) {
    super('INVALID_KEY', message, { status: 400 });
  }
}

export const KEY_BYTES = 32;
const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes sealing adds to a plaintext: version, key hint, nonce, tag. */
export const SEAL_OVERHEAD = 2 + NONCE_BYTES + TAG_BYTES;
/** Binds ciphertexts to this protocol, so a sealed blob of another purpose cannot be replayed as gossip. */
const AAD = Buffer.from('shoal-gossip-v1');

export class Keyring {
  private ring: Buffer[];

  /** `keys[0]` is the primary. Each key is 32 bytes (raw, or base64 / hex text). */
  constructor(keys: (Uint8Array | string)[]) {
    if (keys.length === 0) throw new KeyringError('a keyring needs at least one key');
    this.ring = keys.map(parseKey);
  }

  static generateKey(): string {
    return randomBytes(KEY_BYTES).toString('base64');
  }

  get primary(): Buffer {
    return this.ring[0]!;
  }

  keys(): string[] {
    return this.ring.map((k) => k.toString('base64'));
  }

  /** Step 1 of a rotation: accept a key for decryption. */
  install(key: Uint8Array | string): void {
    const k = parseKey(key);
    if (!this.ring.some((x) => x.equals(k))) this.ring.push(k);
  }

  /** Step 2: encrypt with an installed key from now on. */
  use(key: Uint8Array | string): void {
    const k = parseKey(key);
    const i = this.ring.findIndex((x) => x.equals(k));
    if (i < 0) throw new KeyringError('install a key before using it');
    this.ring.splice(i, 1);
    this.ring.unshift(k);
  }

  /** Step 3: forget an old key. The primary cannot be removed. */
  remove(key: Uint8Array | string): void {
    const k = parseKey(key);
    if (this.primary.equals(k)) throw new KeyringError('cannot remove the primary key; use another key first');
    this.ring = this.ring.filter((x) => !x.equals(k));
  }

  seal(plain: Uint8Array): Buffer {
    const key = this.primary;
    const nonce = randomBytes(NONCE_BYTES);
    const header = Buffer.from([VERSION, key[0]!]);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(Buffer.concat([AAD, header]));
    const body = c.update(plain);
    c.final();
    return Buffer.concat([header, nonce, body, c.getAuthTag()]);
  }

  /** The plaintext, or null when no key of the ring authenticates the blob (caller drops and counts it). */
  open(sealed: Uint8Array): Buffer | null {
    if (sealed.byteLength < SEAL_OVERHEAD || sealed[0] !== VERSION) return null;
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const hint = buf[1];
    const nonce = buf.subarray(2, 2 + NONCE_BYTES);
    const body = buf.subarray(2 + NONCE_BYTES, buf.length - TAG_BYTES);
    const tag = buf.subarray(buf.length - TAG_BYTES);
    // Try the key the hint points at first; the hint is only a shortcut.
    const order = [...this.ring].sort((a, b) => Number(b[0] === hint) - Number(a[0] === hint));
    // The header is authenticated too (additional data): a tampered hint fails like any other byte.
    const aad = Buffer.concat([AAD, buf.subarray(0, 2)]);
    for (const key of order) {
      try {
        const d = createDecipheriv('aes-256-gcm', key, nonce);
        d.setAAD(aad);
        d.setAuthTag(tag);
        const out = d.update(body);
        d.final();
        return out;
      } catch {
        // wrong key or tampered: try the next
      }
    }
    return null;
  }
}

function parseKey(k: Uint8Array | string): Buffer {
  let b: Buffer;
  if (typeof k !== 'string') b = Buffer.from(k);
  else if (/^[0-9a-f]{64}$/i.test(k)) b = Buffer.from(k, 'hex');
  else b = Buffer.from(k, 'base64');
  if (b.length !== KEY_BYTES) throw new KeyringError(`a gossip key is ${KEY_BYTES} bytes (base64 or hex), got ${b.length}`);
  return b;
}
