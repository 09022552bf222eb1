/**
 * Typed IPAM errors. Each names the request field it concerns when it has
 * one, so the store and the API can answer "400 IPAM.Config[0].Subnet: …"
 * without parsing messages.
 */
import { policy, ShoalError } from '../../util/errors.js';

export const IpamErrorCode = {
  /** Not an IPv4 address / CIDR we accept. */
  BAD_ADDRESS: 'BAD_ADDRESS',
  /** A subnet overlaps another network's subnet. */
  OVERLAP: 'OVERLAP',
  /** An address (a gateway) is not a usable host of its subnet. */
  OUT_OF_SUBNET: 'OUT_OF_SUBNET',
  /** No free address, subnet, VNI or port is left. */
  EXHAUSTED: 'EXHAUSTED',
} as const;
export type IpamErrorCode = (typeof IpamErrorCode)[keyof typeof IpamErrorCode];

// Exhaustion is a conflict with what is allocated (freeing something makes it succeed), not a bad request.
const ipamPolicy = policy<IpamErrorCode>([], { BAD_ADDRESS: 400, OVERLAP: 400, OUT_OF_SUBNET: 400, EXHAUSTED: 409 });

export class IpamError extends ShoalError<IpamErrorCode> {
  override readonly name = 'IpamError';
  readonly ns = 'ipam';
  constructor(
    code: IpamErrorCode,
    message: string,
    /** The request field at fault, when the caller gave one ("IPAM.Config[0].Subnet"). */
    readonly field?: string,
  ) {
    super(code, field ? `${field}: ${message}` : message, ipamPolicy(code));
  }
}
