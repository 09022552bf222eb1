/**
 * Validation of a NetworkCreateRequest (Engine API v1.47) for a swarm-scoped
 * overlay. Every field is either honoured or refused with a 400 naming it:
 * Shoal's overlays are IPv4 VXLAN networks whose VNI and subnet the store
 * allocates, so driver options, IPv6, IP ranges, auxiliary addresses, config
 * networks and a second ingress have nothing to act on them and are refused
 * rather than stored and ignored.
 */
import type { NetworkSpec } from '../../../model/index.js';
import { absent, describe, fail, obj, optArray, optBool, optObj, optString, optStringMap } from './check.js';

/** Docker's network name rule (daemon/network.go: the container-name regexp). */
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function validateNetworkCreate(raw: unknown): NetworkSpec {
  const b = obj(raw, 'body');
  const known = new Set(['Name', 'CheckDuplicate', 'Driver', 'Scope', 'Internal', 'Attachable', 'Ingress', 'ConfigOnly', 'ConfigFrom', 'IPAM', 'EnableIPv4', 'EnableIPv6', 'Options', 'Labels']);
  for (const k of Object.keys(b)) if (!known.has(k) && !absent(b[k])) fail(k, 'unknown field');
  const name = optString(b.Name, 'Name') ?? '';
  if (name === '') fail('Name', 'must be provided');
  if (name.length > 63 || !NAME.test(name)) fail('Name', `${JSON.stringify(name)} is not a valid network name ([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 63 characters)`);
  // Duplicates are always refused (409): CheckDuplicate=true asks for what happens anyway.
  optBool(b.CheckDuplicate, 'CheckDuplicate');
  const driver = optString(b.Driver, 'Driver') || 'overlay';
  if (driver !== 'overlay') fail('Driver', `only the "overlay" driver is supported for swarm-scoped networks, not ${JSON.stringify(driver)}`);
  const scope = optString(b.Scope, 'Scope') || 'swarm';
  if (scope !== 'swarm') fail('Scope', `only "swarm" scope is supported, not ${JSON.stringify(scope)}`);
  const internal = optBool(b.Internal, 'Internal') ?? false;
  const attachable = optBool(b.Attachable, 'Attachable') ?? false;
  if (optBool(b.Ingress, 'Ingress')) fail('Ingress', 'the cluster has its ingress network already (the store creates it)');
  if (optBool(b.ConfigOnly, 'ConfigOnly')) fail('ConfigOnly', 'config-only networks are not supported');
  const from = optObj(b.ConfigFrom, 'ConfigFrom');
  if (from && !absent(from.Network) && from.Network !== '') fail('ConfigFrom.Network', 'config-from networks are not supported');
  if (optBool(b.EnableIPv4, 'EnableIPv4') === false) fail('EnableIPv4', 'overlays are IPv4 networks: it cannot be false');
  if (optBool(b.EnableIPv6, 'EnableIPv6')) fail('EnableIPv6', 'IPv6 overlays are not supported');
  const options = optStringMap(b.Options, 'Options') ?? {};
  const opt = Object.keys(options)[0];
  if (opt !== undefined) fail(`Options.${opt}`, 'driver options are not supported (the store allocates the VXLAN ID; encryption and MTU are not configurable)');
  const labels = optStringMap(b.Labels, 'Labels') ?? {};
  const spec: NetworkSpec = { Name: name, Labels: labels, Driver: 'overlay', Scope: 'swarm', Attachable: attachable, Internal: internal };
  const ipam = optObj(b.IPAM, 'IPAM');
  if (ipam) {
    const d = optString(ipam.Driver, 'IPAM.Driver') || 'default';
    if (d !== 'default') fail('IPAM.Driver', `only the "default" IPAM driver is supported, not ${JSON.stringify(d)}`);
    const io = optStringMap(ipam.Options, 'IPAM.Options') ?? {};
    const k = Object.keys(io)[0];
    if (k !== undefined) fail(`IPAM.Options.${k}`, 'IPAM options are not supported');
    const cfgs = optArray(ipam.Config, 'IPAM.Config') ?? [];
    if (cfgs.length > 1) fail('IPAM.Config', `one subnet per network is supported, not ${cfgs.length}`);
    const c = cfgs[0] === undefined ? undefined : obj(cfgs[0], 'IPAM.Config[0]');
    if (c) {
      const subnet = optString(c.Subnet, 'IPAM.Config[0].Subnet');
      const gateway = optString(c.Gateway, 'IPAM.Config[0].Gateway');
      if (!absent(c.IPRange) && c.IPRange !== '') fail('IPAM.Config[0].IPRange', 'IP ranges are not supported (the whole subnet is allocated from)');
      const aux = c.AuxiliaryAddresses;
      if (!absent(aux) && (typeof aux !== 'object' || Object.keys(aux as object).length > 0)) fail('IPAM.Config[0].AuxiliaryAddresses', `auxiliary addresses are not supported (${describe(aux)})`);
      if (gateway && !subnet) fail('IPAM.Config[0].Gateway', 'a gateway needs a subnet');
      // The store checks the CIDR, overlaps and the gateway (it alone sees every network).
      if (subnet) spec.IPAM = { Driver: 'default', Config: [{ Subnet: subnet, ...(gateway ? { Gateway: gateway } : {}) }] };
    }
  }
  return spec;
}
