/**
 * A NodeSpec as `docker node update` sends it. Role and Availability are
 * required, as in dockerd: defaulting a missing Role to "worker" would
 * silently demote a manager.
 */
import type { NodeSpec } from '../../../model/index.js';
import { absent, fail, obj, optEnum, optString, optStringMap } from './check.js';

export function validateNodeSpec(raw: unknown): NodeSpec {
  if (absent(raw)) fail('Spec', 'request body must be a NodeSpec object');
  const s = obj(raw, 'Spec');
  const Role = optEnum(s.Role, 'Spec.Role', ['worker', 'manager'] as const);
  if (!Role) fail('Spec.Role', 'must be "worker" or "manager"');
  const Availability = optEnum(s.Availability, 'Spec.Availability', ['active', 'pause', 'drain'] as const);
  if (!Availability) fail('Spec.Availability', 'must be "active", "pause" or "drain"');
  const Name = optString(s.Name, 'Spec.Name');
  const Labels = optStringMap(s.Labels, 'Spec.Labels') ?? {};
  return { ...(Name ? { Name } : {}), Labels, Role, Availability };
}
