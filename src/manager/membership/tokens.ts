import { ShoalError } from '../../util/errors.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { digest36 } from '../../wire/pki/identity.js';

/**
 * Join tokens, Docker's format: `SWMTKN-1-<cluster digest>-<secret>`.
 * - the digest (50 base36 chars) is the SHA-256 of the cluster's root CA
 *   certificate: a joining node checks the CA it is shown against it before
 *   it trusts a manager with the token (a cluster without a CA, in tests of
 *   the manager alone, uses a hash of its root secret);
 * - the secret (25 base36 chars) differs for workers and managers and is
 *   what admits the node; rotating a token replaces the secret only.
 */
export class TokenError extends ShoalError<'INVALID_TOKEN'> {
  override readonly name = 'TokenError';
  readonly ns = 'membership';
  constructor(message: string) {
    super('INVALID_TOKEN', message, { status: 400 });
  }
}

const PREFIX = 'SWMTKN-1-';

export interface ParsedToken {
  digest: string;
  secret: string;
}

/** Random lowercase base36 string of exactly `n` characters. */
export function base36(n: number): string {
  let s = '';
  while (s.length < n) {
    for (const b of randomBytes(n)) {
      // 252 = 7 × 36: reject the top values so every digit is equally likely.
      if (b < 252) s += (b % 36).toString(36);
      if (s.length === n) break;
    }
  }
  return s;
}

/** A Docker-style object ID: 25 lowercase base36 characters. */
export function newObjectId(): string {
  return base36(25);
}

/** The token digest of a cluster without a CA (tests of the manager alone): its root secret's. */
export function clusterDigest(rootSecret: string): string {
  return digest36(rootSecret);
}

/** A new token whose first part is `digest` (the cluster CA's digest: membership/ca.ts tokenDigest). */
export function makeToken(digest: string): string {
  return `${PREFIX}${digest}-${base36(25)}`;
}

export function parseToken(token: string): ParsedToken {
  const m = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/.exec(token.trim());
  if (!m) throw new TokenError('invalid join token: expected SWMTKN-1-<50 characters>-<25 characters> (copy it from `shoal join-token`)');
  return { digest: m[1]!, secret: m[2]! };
}

/** Which role `token` admits, given the cluster's current tokens; throws TokenError when neither. */
export function roleForToken(token: string, current: { Worker: string; Manager: string }): 'worker' | 'manager' {
  const t = parseToken(token);
  const w = parseToken(current.Worker);
  const m = parseToken(current.Manager);
  if (t.digest !== w.digest) throw new TokenError('join token is for a different cluster');
  if (same(t.secret, m.secret)) return 'manager';
  if (same(t.secret, w.secret)) return 'worker';
  throw new TokenError('join token is not valid (it may have been rotated): get a current one with `shoal join-token worker|manager`');
}

function same(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}
