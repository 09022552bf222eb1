/**
 * Networks, read-only for now: the stored swarm networks plus the `ingress`
 * overlay every swarm has (`docker service create --network` and
 * `docker service inspect --pretty` look networks up; overlay-net will own
 * these objects later).
 */
import { createHash } from 'node:crypto';
import type { Network } from '../../../model/index.js';
import { notFound } from '../errors.js';
import { parseFilters } from '../filters.js';
import type { Deps } from '../options.js';
import type { Router } from '../router.js';
import { readStore } from '../state.js';
import type { Store } from '../../store/store.js';

const NETWORK_FILTERS = ['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'] as const;

/** A stable ID for the built-in ingress network, derived from the cluster's ID. */
function ingressId(clusterId: string): string {
  const h = BigInt('0x' + createHash('sha256').update(`shoal-ingress/${clusterId}`).digest('hex'));
  return h.toString(36).padStart(25, '0').slice(-25);
}

function allNetworks(store: Store): Network[] {
  const stored = store.list('network');
  if (stored.some((n) => n.Spec.Name === 'ingress')) return stored;
  const c = store.list('cluster')[0];
  const ingress: Network = {
    ID: ingressId(c?.ID ?? ''),
    Version: { Index: c?.Version.Index ?? 0 },
    CreatedAt: c?.CreatedAt ?? new Date(0).toISOString(),
    UpdatedAt: c?.CreatedAt ?? new Date(0).toISOString(),
    Spec: {
      Name: 'ingress',
      Labels: {},
      Driver: 'overlay',
      Scope: 'swarm',
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }] },
      Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' },
      Ingress: true,
    } as Network['Spec'],
  };
  return [ingress, ...stored];
}

/** Docker's network resource shape (GET /networks). */
function networkShape(n: Network): Record<string, unknown> {
  const s = n.Spec as Network['Spec'] & { Ingress?: boolean };
  return {
    Name: s.Name,
    Id: n.ID,
    Created: n.CreatedAt,
    Scope: s.Scope ?? 'swarm',
    Driver: s.Driver ?? 'overlay',
    EnableIPv4: true,
    EnableIPv6: false,
    IPAM: { Driver: s.IPAM?.Driver ?? 'default', Options: null, Config: s.IPAM?.Config ?? [] },
    Internal: s.Internal ?? false,
    Attachable: s.Attachable ?? false,
    Ingress: s.Ingress ?? false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: s.Options ?? {},
    Labels: s.Labels ?? {},
  };
}

export function networkRoutes(r: Router, d: Deps): void {
  const { ctx } = d;

  r.add('GET', '/networks', async (req) => {
    const f = parseFilters(req.query.get('filters'), NETWORK_FILTERS);
    const store = await readStore(ctx);
    const list = allNetworks(store).filter(
      (n) =>
        f.prefix('id', n.ID) &&
        f.prefix('name', n.Spec.Name) &&
        f.exact('driver', n.Spec.Driver ?? 'overlay') &&
        f.exact('scope', n.Spec.Scope ?? 'swarm') &&
        f.labels('label', n.Spec.Labels) &&
        // Every swarm network is "custom" except ingress, which counts as builtin.
        f.exact('type', (n.Spec as { Ingress?: boolean }).Ingress ? 'builtin' : 'custom'),
    );
    return { body: list.map(networkShape) };
  });

  r.add('GET', '/networks/:id', async (req) => {
    const store = await readStore(ctx);
    const ref = req.params.id!;
    const all = allNetworks(store);
    const n = all.find((x) => x.ID === ref) ?? all.find((x) => x.Spec.Name === ref) ?? uniquePrefix(all, ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return { body: networkShape(n) };
  });

}

function uniquePrefix(all: Network[], ref: string): Network | undefined {
  const m = all.filter((x) => x.ID.startsWith(ref));
  return m.length === 1 ? m[0] : undefined;
}
