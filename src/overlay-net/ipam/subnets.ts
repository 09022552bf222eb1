/**
 * Which subnet a network gets. Docker's default-addr-pool: 10.0.0.0/8 carved
 * into /24s; `ingress` holds 10.0.0.0/24, user networks the next free /24
 * that overlaps no network, or the subnet the user names, which must overlap
 * no other network (two overlays with one address range would make a task's
 * route ambiguous once it joins both).
 */
import { containsAddr, firstHost, formatCidr, formatIPv4, lastOf, parseCidr, parseIPv4, sizeOf, type Cidr } from './cidr.js';
import { IpamError, IpamErrorCode } from './errors.js';

export const DEFAULT_POOL: Cidr = { base: parseIPv4('10.0.0.0'), prefix: 8 };
export const DEFAULT_SUBNET_SIZE = 24;
export const INGRESS_SUBNET = '10.0.0.0/24';

/** One existing network's range, named for the error message. */
export interface TakenSubnet {
  name: string;
  subnet: Cidr;
}

/** The lowest /size block of `pool` that overlaps nothing in `taken`. */
export function nextFreeSubnet(taken: readonly TakenSubnet[], pool: Cidr = DEFAULT_POOL, size = DEFAULT_SUBNET_SIZE): Cidr {
  const step = 2 ** (32 - size);
  const sorted = [...taken].sort((a, b) => a.subnet.base - b.subnet.base);
  let candidate = pool.base;
  // Walk the taken blocks in order, jumping past each that collides: O(n log n), not O(pool).
  for (;;) {
    if (candidate + step - 1 > lastOf(pool)) break;
    const hit = sorted.find((t) => t.subnet.base <= candidate + step - 1 && candidate <= lastOf(t.subnet));
    if (!hit) return { base: candidate, prefix: size };
    // The next aligned block after the collision.
    candidate = Math.ceil((lastOf(hit.subnet) + 1) / step) * step;
  }
  throw new IpamError(IpamErrorCode.EXHAUSTED, `the address pool ${formatCidr(pool)} has no free /${size} left`);
}

/**
 * A user's `--subnet`/`--gateway`, checked: a valid IPv4 CIDR with room for
 * at least one host (/30 or larger), overlapping no network in `taken`, and a
 * gateway that is a host of it. Returns the subnet and the gateway (the first
 * host when none is given).
 */
export function checkUserSubnet(subnet: string, gateway: string | undefined, taken: readonly TakenSubnet[], field = 'IPAM.Config[0]'): { subnet: Cidr; gateway: number } {
  const c = parseCidr(subnet, `${field}.Subnet`);
  if (c.prefix > 30) throw new IpamError(IpamErrorCode.BAD_ADDRESS, `${subnet} is too small: an overlay needs at least a /30`, `${field}.Subnet`);
  const hit = taken.find((t) => t.subnet.base <= lastOf(c) && c.base <= lastOf(t.subnet));
  if (hit) throw new IpamError(IpamErrorCode.OVERLAP, `${subnet} overlaps network ${hit.name} (${formatCidr(hit.subnet)})`, `${field}.Subnet`);
  if (gateway === undefined || gateway === '') return { subnet: c, gateway: firstHost(c) };
  const g = parseIPv4(gateway, `${field}.Gateway`);
  if (!containsAddr(c, g) || g === c.base || g === c.base + sizeOf(c) - 1) {
    throw new IpamError(IpamErrorCode.OUT_OF_SUBNET, `${formatIPv4(g)} is not a host address of ${subnet}`, `${field}.Gateway`);
  }
  return { subnet: c, gateway: g };
}
