/**
 * Networks (Engine API v1.47): create, inspect (by ID, name or ID prefix),
 * list with filters, remove, prune. The store allocates each network's
 * overlay (VNI, subnet, gateway) when it applies the create, and refuses
 * removing a network a service uses (409); `ingress` is created with the
 * cluster and may be removed only while no service publishes a port (403,
 * as dockerd answers).
 */
import type { Network } from '../../../model/index.js';
import { ApiError, notFound } from '../errors.js';
import { parseFilters, type Filters } from '../filters.js';
import type { Deps } from '../options.js';
import { resolve } from '../resolve.js';
import type { Router } from '../router.js';
import { commitOps, readStore } from '../state.js';
import type { Store } from '../../store/store.js';
import { networkRefs, publishesIngress } from '../../store/overlay-rules.js';
import { validateNetworkCreate } from '../validate/network-spec.js';
import { fail } from '../validate/check.js';

const NETWORK_FILTERS = ['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling'] as const;
const PRUNE_FILTERS = ['label', 'label!', 'until'] as const;

/** Services using a network: by reference, or (ingress) by publishing a port. */
function users(store: Store, n: Network): string[] {
  return store
    .list('service')
    .filter((s) => networkRefs(s).some((r) => r.ref.Target === n.ID) || (n.Spec.Ingress && publishesIngress(s)))
    .map((s) => s.Spec.Name);
}

/** Docker's network resource shape. */
function networkShape(n: Network): Record<string, unknown> {
  const s = n.Spec;
  const vni = n.ShoalOverlay ? { 'com.docker.network.driver.overlay.vxlanid_list': String(n.ShoalOverlay.VNI) } : {};
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
    Options: { ...vni, ...(s.Options ?? {}) },
    Labels: s.Labels ?? {},
  };
}

function dangling(f: Filters, store: Store, n: Network): boolean {
  const v = f.get('dangling');
  if (v.length === 0) return true;
  const want = v[0] === 'true' || v[0] === '1';
  if (!['true', '1', 'false', '0'].includes(v[0]!)) fail('filters', `invalid dangling filter value ${JSON.stringify(v[0])} (true or false)`);
  // The ingress network is built in: never dangling (dockerd's rule for predefined networks).
  const isDangling = !n.Spec.Ingress && users(store, n).length === 0;
  return want === isDangling;
}

export function networkRoutes(r: Router, d: Deps): void {
  const { ctx } = d;

  r.add('POST', '/networks/create', async (req) => {
    const spec = validateNetworkCreate(await req.json());
    const id = ctx.newId();
    // The store refuses a taken name (409) and a bad or overlapping subnet (400, IPAM.Config[0].Subnet).
    await commitOps(ctx, [{ op: 'create', kind: 'network', object: { ID: id, Spec: spec } }]);
    return { status: 201, body: { Id: id, Warning: '' } };
  });

  r.add('GET', '/networks', async (req) => {
    const f = parseFilters(req.query.get('filters'), NETWORK_FILTERS);
    const store = await readStore(ctx);
    const list = store
      .list('network')
      .filter(
        (n) =>
          f.prefix('id', n.ID) &&
          f.prefix('name', n.Spec.Name) &&
          f.exact('driver', n.Spec.Driver ?? 'overlay') &&
          f.exact('scope', n.Spec.Scope ?? 'swarm') &&
          f.labels('label', n.Spec.Labels) &&
          // Every swarm network is "custom" except ingress, which counts as builtin.
          f.exact('type', n.Spec.Ingress ? 'builtin' : 'custom') &&
          dangling(f, store, n),
      )
      .sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name));
    return { body: list.map(networkShape) };
  });

  r.add('GET', '/networks/:id', async (req) => {
    const store = await readStore(ctx);
    return { body: networkShape(resolveNetwork(store, req.params.id!)) };
  });

  r.add('DELETE', '/networks/:id', async (req) => {
    const store = await readStore(ctx);
    const n = resolveNetwork(store, req.params.id!);
    if (n.Spec.Ingress) {
      const u = users(store, n);
      if (u.length > 0) throw new ApiError(403, `ingress network cannot be removed because services depend on it: ${u.sort().join(', ')}`);
    }
    // The store is the final judge: a service created meanwhile makes it refuse (409).
    await commitOps(ctx, [{ op: 'delete', kind: 'network', id: n.ID }]);
    return { status: 204 };
  });

  r.add('POST', '/networks/prune', async (req) => {
    const f = parseFilters(req.query.get('filters'), PRUNE_FILTERS);
    const until = untilMs(f);
    const store = await readStore(ctx);
    const victims = store
      .list('network')
      .filter((n) => !n.Spec.Ingress && users(store, n).length === 0)
      .filter((n) => (f.has('label') ? f.labels('label', n.Spec.Labels) : true) && (f.has('label!') ? !matchesAny(f.get('label!'), n.Spec.Labels) : true))
      .filter((n) => until === null || Date.parse(n.CreatedAt) < until)
      .sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name));
    const deleted: string[] = [];
    // One at a time: a network that gained a user meanwhile is refused by the store and simply kept.
    for (const n of victims) {
      try {
        await commitOps(ctx, [{ op: 'delete', kind: 'network', id: n.ID, expect: n.Version.Index }]);
        deleted.push(n.Spec.Name);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 409) throw err;
      }
    }
    return { body: { NetworksDeleted: deleted } };
  });
}

function resolveNetwork(store: Store, ref: string): Network {
  try {
    return resolve(store, 'network', ref);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw notFound(`network ${ref} not found`);
    throw err;
  }
}

function matchesAny(specs: string[], labels: Record<string, string> | undefined): boolean {
  return specs.some((s) => {
    const eq = s.indexOf('=');
    const k = eq < 0 ? s : s.slice(0, eq);
    return labels?.[k] !== undefined && (eq < 0 || labels[k] === s.slice(eq + 1));
  });
}

/** `until`: a Unix timestamp (seconds, fractions allowed), an RFC 3339 time, or a Go duration before now. */
function untilMs(f: Filters): number | null {
  const v = f.get('until');
  if (v.length === 0) return null;
  const s = v[0]!;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const dur = /^(\d+(?:\.\d+)?)(h|m|s|ms)$/.exec(s);
  if (dur) return Date.now() - Number(dur[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[dur[2] as 'h' | 'm' | 's' | 'ms'];
  const t = Date.parse(s);
  if (Number.isNaN(t)) fail('filters', `invalid until filter value ${JSON.stringify(s)}`);
  return t;
}
