/**
 * Host addresses inside one subnet. The lowest free address, always: a pure
 * function of what is used, so every manager applying the same log picks the
 * same one (a "next after the last" cursor would be state of its own to
 * replicate and restore).
 */
import { formatCidr, lastOf, sizeOf, type Cidr } from './cidr.js';
import { IpamError, IpamErrorCode } from './errors.js';

/**
 * The lowest address of `subnet` that is not the network address, the
 * broadcast address, the gateway, or `used`. Throws EXHAUSTED when none is
 * left. /31 and /32 have no hosts besides those, so they are always full.
 */
export function lowestFree(subnet: Cidr, gateway: number, used: (ip: number) => boolean, what = 'address'): number {
  if (sizeOf(subnet) >= 4) {
    const last = lastOf(subnet);
    for (let ip = subnet.base + 1; ip < last; ip++) {
      if (ip !== gateway && !used(ip)) return ip;
    }
  }
  throw new IpamError(IpamErrorCode.EXHAUSTED, `no free ${what} left in ${formatCidr(subnet)}`);
}

/** Hosts a subnet can give out (without network, broadcast and gateway). */
export function capacity(subnet: Cidr): number {
  return Math.max(0, sizeOf(subnet) - 3);
}
