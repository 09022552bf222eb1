/**
 * A service's network references against the store, as dockerd resolves
 * them: `Target` may be a network's ID, name or unique ID prefix, and is
 * stored as the ID (so renaming or re-creating a network never re-points a
 * service). Unknown targets are a 400 naming the field.
 */
import type { NetworkAttachmentConfig, ServiceSpec } from '../../model/index.js';
import type { Store } from '../store/store.js';
import { badRequest } from './errors.js';

export function resolveNetworkRefs(store: Store, spec: ServiceSpec): void {
  const fix = (refs: NetworkAttachmentConfig[] | undefined, field: string) =>
    refs?.map((r, i) => {
      const n = store.find('network', r.Target);
      if (!n) throw badRequest(`network ${r.Target} not found`, `${field}[${i}].Target`);
      // Per-attachment driver options (dockerd passes them to the network driver): Shoal's overlay has none to honour.
      if (r.DriverOpts && Object.keys(r.DriverOpts).length > 0) throw badRequest('driver options are not supported on overlay attachments', `${field}[${i}].DriverOpts`);
      if (n.Spec.Ingress) throw badRequest('a service cannot be attached to the ingress network explicitly (publish a port instead)', `${field}[${i}].Target`);
      return { ...r, Target: n.ID };
    });
  if (spec.TaskTemplate.Networks) spec.TaskTemplate.Networks = fix(spec.TaskTemplate.Networks, 'Spec.TaskTemplate.Networks');
  if (spec.Networks) spec.Networks = fix(spec.Networks, 'Spec.Networks');
}
