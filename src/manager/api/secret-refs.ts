/**
 * A service's Secrets / Configs references against the store: each must
 * name an existing object (by ID, or by name as a convenience for clients
 * that do not resolve it first), and is stored with both its ID and current
 * name and a File filled with Docker's defaults (target = name, uid/gid 0,
 * mode 0444).
 */
import type { ConfigReference, SecretReference, ServiceSpec } from '../../model/index.js';
import type { Store } from '../store/store.js';
import { badRequest } from './errors.js';

export function resolveSecretRefs(store: Store, spec: ServiceSpec): void {
  const c = spec.TaskTemplate.ContainerSpec;
  if (!c) return;
  const field = 'Spec.TaskTemplate.ContainerSpec';
  if (c.Secrets) {
    c.Secrets = c.Secrets.map((r, i): SecretReference => {
      const s = (r.SecretID && store.get('secret', r.SecretID)) || (r.SecretName ? store.find('secret', r.SecretName) : undefined);
      if (!s || (r.SecretID && s.ID !== r.SecretID)) throw badRequest(`secret ${r.SecretName || r.SecretID} not found`, `${field}.Secrets[${i}]`);
      return { ...r, SecretID: s.ID, SecretName: s.Spec.Name, File: withFileDefaults(r.File, s.Spec.Name) };
    });
  }
  if (c.Configs) {
    c.Configs = c.Configs.map((r, i): ConfigReference => {
      const o = (r.ConfigID && store.get('config', r.ConfigID)) || (r.ConfigName ? store.find('config', r.ConfigName) : undefined);
      if (!o || (r.ConfigID && o.ID !== r.ConfigID)) throw badRequest(`config ${r.ConfigName || r.ConfigID} not found`, `${field}.Configs[${i}]`);
      return { ...r, ConfigID: o.ID, ConfigName: o.Spec.Name, File: withFileDefaults(r.File, o.Spec.Name) };
    });
  }
}

function withFileDefaults(f: SecretReference['File'], name: string): NonNullable<SecretReference['File']> {
  return { Name: f?.Name || name, UID: f?.UID || '0', GID: f?.GID || '0', Mode: f?.Mode ?? 0o444 };
}
