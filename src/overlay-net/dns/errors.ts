/**
 * Typed errors of the embedded resolver. Queries never throw: a malformed
 * packet is dropped and counted (metrics.ts). What is reported is the
 * resolver's own trouble — a gateway it could not bind — through the
 * `onError` option, never by ending the process.
 */
import { policy, ShoalError } from '../../util/errors.js';

export const DnsErrorCode = {
  /** gateway:53 could not be bound (the address is not on the bridge yet, or the port is taken); retried at the next update. */
  BIND_FAILED: 'BIND_FAILED',
  /** The upstream forwarding socket failed. */
  UPSTREAM_FAILED: 'UPSTREAM_FAILED',
} as const;

export type DnsErrorCode = (typeof DnsErrorCode)[keyof typeof DnsErrorCode];

const dnsPolicy = policy<DnsErrorCode>(['BIND_FAILED', 'UPSTREAM_FAILED'], {});

export class DnsError extends ShoalError<DnsErrorCode> {
  override readonly name = 'DnsError';
  readonly ns = 'dns';
  constructor(code: DnsErrorCode, message: string, cause?: unknown) {
    super(code, `${code}: ${message}`, dnsPolicy(code, cause === undefined ? {} : { cause }));
  }
}
