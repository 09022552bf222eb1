/**
 * Kernel object names, derived from the plan so that a restarted node finds
 * its own objects again without a database: the name says what it is for.
 * Linux caps interface names at 15 characters (IFNAMSIZ − 1).
 */
import { createHash } from 'node:crypto';

/** One network's bridge: `shbr` + VNI (at most 8 digits → 12 chars). */
export function bridgeName(vni: number): string {
  return `shbr${vni}`;
}

/** One network's VXLAN device. */
export function vxlanName(vni: number): string {
  return `shvx${vni}`;
}

/**
 * The host end of one task attachment: `shv` + 12 hex of a digest of
 * everything the attachment is made of. A changed address or MAC yields
 * another name, so "the veth exists" means "the attachment is as planned",
 * and the reconciler never has to look inside a task's namespace.
 */
export function vethName(netns: string, networkId: string, addr: string, mac: string): string {
  return `shv${createHash('sha256').update(`${netns}\0${networkId}\0${addr}\0${mac}`).digest('hex').slice(0, 12)}`;
}

export const OWNED_LINK = {
  bridge: /^shbr\d{1,8}$/,
  vxlan: /^shvx\d{1,8}$/,
  veth: /^shv[0-9a-f]{12}$/,
};

export function isOwnedLink(name: string): boolean {
  return OWNED_LINK.bridge.test(name) || OWNED_LINK.vxlan.test(name) || OWNED_LINK.veth.test(name);
}

/**
 * The MAC of an address this node owns on an overlay (its bridge carries
 * nodeAddr): 02:42 + the IPv4 octets, Docker's derivation, so the managers
 * can put the same MAC in other nodes' remote entries for this nodeAddr
 * without asking anyone.
 */
export function macForAddr(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}
