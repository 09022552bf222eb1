/**
 * IPv4 addresses and CIDR blocks as unsigned 32-bit integers. Integers make
 * containment, overlap and "next address" plain arithmetic, and a used-address
 * set a Set<number>. IPv6 is out of scope (Shoal's overlays are IPv4, like
 * Docker's defaults).
 */
import { IpamError, IpamErrorCode } from './errors.js';

export interface Cidr {
  /** The network address (host bits zero). */
  base: number;
  prefix: number;
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/;

/** Dotted quad → uint32. Refuses leading zeros ("010" is octal to some tools, decimal to others). */
export function parseIPv4(s: string, field?: string): number {
  const parts = typeof s === 'string' ? s.split('.') : [];
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p) && Number(p) <= 255)) {
    throw new IpamError(IpamErrorCode.BAD_ADDRESS, `${JSON.stringify(s)} is not an IPv4 address`, field);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** "10.0.1.0/24" → Cidr. Host bits must be zero, as dockerd requires ("10.0.1.5/24" is refused). */
export function parseCidr(s: string, field?: string): Cidr {
  const m = typeof s === 'string' ? /^([^/]+)\/([0-9]{1,2})$/.exec(s) : null;
  if (!m) throw new IpamError(IpamErrorCode.BAD_ADDRESS, `${JSON.stringify(s)} is not an IPv4 CIDR (a.b.c.d/len)`, field);
  const prefix = Number(m[2]);
  if (prefix > 32) throw new IpamError(IpamErrorCode.BAD_ADDRESS, `prefix length ${prefix} is above 32`, field);
  const base = parseIPv4(m[1]!, field);
  if ((base & ~maskOf(prefix)) >>> 0 !== 0) {
    throw new IpamError(IpamErrorCode.BAD_ADDRESS, `${s} has host bits set (the network is ${formatCidr({ base: (base & maskOf(prefix)) >>> 0, prefix })})`, field);
  }
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function sizeOf(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function lastOf(c: Cidr): number {
  return c.base + sizeOf(c) - 1;
}

export function containsAddr(c: Cidr, ip: number): boolean {
  return ip >= c.base && ip <= lastOf(c);
}

/** Two aligned blocks overlap exactly when one contains the other's base. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.base <= lastOf(b) && b.base <= lastOf(a);
}

/** The subnet's first host: Docker's default gateway. */
export function firstHost(c: Cidr): number {
  return c.base + 1;
}

/** "10.0.1.5/24" — Docker's form for task and VIP addresses. */
export function withPrefix(ip: number, c: Cidr): string {
  return `${formatIPv4(ip)}/${c.prefix}`;
}

/** "10.0.1.5/24" or "10.0.1.5" → the address alone (uint32). */
export function addrOf(s: string): number {
  const slash = s.indexOf('/');
  return parseIPv4(slash < 0 ? s : s.slice(0, slash));
}
