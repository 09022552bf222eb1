/**
 * The small rules the overlay allocator and the API share: what counts as an
 * ingress port, which networks a service names (and in which field), the
 * ingress network's stable ID, and IPAM errors as the store's verdicts.
 */
import { createHash } from 'node:crypto';
import type { EndpointPortConfig, NetworkAttachmentConfig, Service } from '../../model/index.js';
import { IpamError } from '../../overlay-net/ipam/index.js';
import { StoreError, StoreErrorCode } from './errors.js';

export const INGRESS_NAME = 'ingress';

/** A stable ID for the cluster's ingress network, derived from the cluster's ID (the same on every manager). */
export function ingressId(clusterId: string): string {
  const h = BigInt('0x' + createHash('sha256').update(`shoal-ingress/${clusterId}`).digest('hex'));
  return h.toString(36).padStart(25, '0').slice(-25);
}

/** A port published in ingress mode (the routing mesh's). */
export function isIngressPort(p: EndpointPortConfig): boolean {
  return (p.PublishMode ?? 'ingress') === 'ingress';
}

export function publishesIngress(s: Service): boolean {
  return (s.Spec.EndpointSpec?.Ports ?? []).some(isIngressPort);
}

/** The network references of a service spec, TaskTemplate's first, each with the field that named it. */
export function networkRefs(s: Service): { ref: NetworkAttachmentConfig; field: string }[] {
  const out: { ref: NetworkAttachmentConfig; field: string }[] = [];
  (s.Spec.TaskTemplate?.Networks ?? []).forEach((ref, i) => out.push({ ref, field: `Spec.TaskTemplate.Networks[${i}].Target` }));
  (s.Spec.Networks ?? []).forEach((ref, i) => out.push({ ref, field: `Spec.Networks[${i}].Target` }));
  return out;
}

/** IPAM's typed errors as the store's (the verdict every manager reaches alike). */
export function asStoreError(err: unknown): unknown {
  if (!(err instanceof IpamError)) return err;
  const code = err.code === 'EXHAUSTED' ? StoreErrorCode.FAILED_PRECONDITION : StoreErrorCode.INVALID;
  const msg = err.field && err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
  return new StoreError(code, msg, err.field);
}

export function guard<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw asStoreError(err);
  }
}
