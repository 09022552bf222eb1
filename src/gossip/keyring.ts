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
 * right key is usually tried first) | sent at (u48, epoch ms) | nonce (12) |
 * ciphertext | tag (16); version, hint and time are authenticated as
 * additional data.
 *
 * Replays: a datagram is opened at most once. Its sender's time must be
 * within `replayWindowMs` of ours (NTP-synchronised clocks are assumed, as
 * for TLS certificates), and its nonce must not be one seen in the last two
 * windows — so a captured datagram replayed later is stale, and one replayed
 * at once is a duplicate; either is dropped and counted (`stats`).
 */
export class KeyringError extends ShoalError<'INVALID_KEY'> {
  override readonly name = 'KeyringError';
  readonly ns = 'gossip';
  constructor(message: string) {
    super('INVALID_KEY', message, { status: 400 });
  }
}

export const KEY_BYTES = 32;
const VERSION = 2;
const TIME_BYTES = 6;
const HEADER_BYTES = 2 + TIME_BYTES;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes sealing adds to a plaintext: version, key hint, time, nonce, tag. */
export const SEAL_OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES;
/** How far a sender's clock may be from ours (and how old a datagram may be) before it is refused. */
export const DEFAULT_REPLAY_WINDOW_MS = 120_000;

export interface KeyringOptions {
  /** Epoch ms (default Date.now): the clock comes from outside, as everywhere in the cores. */
  now?: () => number;
  replayWindowMs?: number;
}
/** Binds ciphertexts to this protocol, so a sealed blob of another purpose cannot be replayed as gossip. */
const AAD = Buffer.from('shoal-gossip-v1');

export class Keyring {
  private ring: Buffer[];
  private readonly now: () => number;
  private readonly windowMs: number;
  /** Nonces opened recently (latin1 string → when it may be forgotten), to open each datagram once. */
  private seen = new Map<string, number>();
  private nextPrune = 0;
  /** Why sealed blobs were refused. */
  readonly stats = { unauthenticated: 0, replayed: 0, stale: 0 };

  /** `keys[0]` is the primary. Each key is 32 bytes (raw, or base64 / hex text). */
  constructor(keys: (Uint8Array | string)[], opts: KeyringOptions = {}) {
    if (keys.length === 0) throw new KeyringError('a keyring needs at least one key');
    this.ring = keys.map(parseKey);
    this.now = opts.now ?? Date.now;
    this.windowMs = opts.replayWindowMs ?? DEFAULT_REPLAY_WINDOW_MS;
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
    const header = Buffer.alloc(HEADER_BYTES);
    header[0] = VERSION;
    header[1] = key[0]!;
    header.writeUIntBE(Math.max(0, Math.floor(this.now())), 2, TIME_BYTES);
    const c = createCipheriv('aes-256-gcm', key, nonce);
    c.setAAD(Buffer.concat([AAD, header]));
    const body = c.update(plain);
    c.final();
    return Buffer.concat([header, nonce, body, c.getAuthTag()]);
  }

  /**
   * The plaintext, or null when no key of the ring authenticates the blob,
   * or it was opened before, or it is older (or newer) than the replay
   * window; the caller drops it, and `stats` says which.
   */
  open(sealed: Uint8Array): Buffer | null {
    if (sealed.byteLength < SEAL_OVERHEAD || sealed[0] !== VERSION) {
      this.stats.unauthenticated++;
      return null;
    }
    const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    const hint = buf[1];
    const nonce = buf.subarray(HEADER_BYTES, HEADER_BYTES + NONCE_BYTES);
    const body = buf.subarray(HEADER_BYTES + NONCE_BYTES, buf.length - TAG_BYTES);
    const tag = buf.subarray(buf.length - TAG_BYTES);
    // Try the key the hint points at first; the hint is only a shortcut.
    const order = [...this.ring].sort((a, b) => Number(b[0] === hint) - Number(a[0] === hint));
    // The header is authenticated too (additional data): a tampered hint or time fails like any other byte.
    const aad = Buffer.concat([AAD, buf.subarray(0, HEADER_BYTES)]);
    for (const key of order) {
      let out: Buffer;
      try {
        const d = createDecipheriv('aes-256-gcm', key, nonce);
        d.setAAD(aad);
        d.setAuthTag(tag);
        out = d.update(body);
        d.final();
      } catch {
        continue; // wrong key or tampered: try the next
      }
      // Authentic: now whether it is fresh and new (checked after authentication, so forged
      // datagrams cannot fill the nonce cache).
      const now = this.now();
      const sentAt = buf.readUIntBE(2, TIME_BYTES);
      if (Math.abs(now - sentAt) > this.windowMs) {
        this.stats.stale++;
        return null;
      }
      const id = nonce.toString('latin1');
      if (this.seen.has(id)) {
        this.stats.replayed++;
        return null;
      }
      this.remember(id, now);
      return out;
    }
    this.stats.unauthenticated++;
    return null;
  }

  /** Keeps a nonce for two windows (a datagram stamped up to a window ahead stays refused until it is stale). */
  private remember(id: string, now: number): void {
    this.seen.set(id, now + 2 * this.windowMs);
    if (now < this.nextPrune) return;
    this.nextPrune = now + this.windowMs / 4;
    // Insertion order is expiry order (while the clock runs forward): stop at the first one still kept.
    for (const [k, until] of this.seen) {
      if (until >= now) break;
      this.seen.delete(k);
    }
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
