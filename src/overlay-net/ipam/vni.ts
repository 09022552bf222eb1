/**
 * VXLAN network identifiers. `ingress` has 4096 (Docker's); user networks
 * take the lowest free from 4097 up. The VNI is the network's identity on the
 * wire, so two networks must never share one: lowest-free over the stored
 * networks, inside the store's apply, makes that a property of the log order.
 */
import { IpamError, IpamErrorCode } from './errors.js';

export const INGRESS_VNI = 4096;
export const FIRST_VNI = 4097;
/** VXLAN's field is 24 bits. */
export const MAX_VNI = 0xffffff;

export function nextVni(used: Iterable<number>): number {
  const taken = new Set(used);
  for (let v = FIRST_VNI; v <= MAX_VNI; v++) if (!taken.has(v)) return v;
  throw new IpamError(IpamErrorCode.EXHAUSTED, 'no free VXLAN network identifier left');
}
