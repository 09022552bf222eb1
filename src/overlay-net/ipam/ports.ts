/**
 * Published ports of the routing mesh. A port published in ingress mode is
 * taken on every node, so one port (per protocol) has one owner service.
 * `PublishedPort: 0` gets the lowest free port of Swarm's dynamic range.
 */
import { IpamError, IpamErrorCode } from './errors.js';

export const DYNAMIC_PORT_FIRST = 30000;
export const DYNAMIC_PORT_LAST = 32767;

export function lowestFreePort(used: (port: number) => boolean, field?: string): number {
  for (let p = DYNAMIC_PORT_FIRST; p <= DYNAMIC_PORT_LAST; p++) if (!used(p)) return p;
  throw new IpamError(IpamErrorCode.EXHAUSTED, `no free port left in ${DYNAMIC_PORT_FIRST}-${DYNAMIC_PORT_LAST}`, field);
}
