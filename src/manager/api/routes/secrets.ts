/**
 * Secrets and configs (Engine API v1.47): create, list (filters id, label,
 * name, names), inspect by ID, name or ID prefix, update (Labels only, with
 * `?version=N`), remove (409 while a service uses it). The data is sealed
 * with the cluster data key before it is proposed (the Raft log holds only
 * ciphertext, bound to the object's kind and ID) and is returned for configs
 * only, as dockerd does: a secret's data never leaves the managers except to
 * the nodes running a task that uses it (the dispatcher).
 */
import type { Config, Secret } from '../../../model/index.js';
import type { ManagerContext } from '../../interface.js';
import { aadFor, type DataKey } from '../../secrets/data-key.js';
import { badRequest, unavailable } from '../errors.js';
import { parseFilters } from '../filters.js';
import { versionParam } from '../http.js';
import type { Deps } from '../options.js';
import { resolve } from '../resolve.js';
import type { Router } from '../router.js';
import { commitOps, readStore } from '../state.js';
import { validateSecretSpec, type SecretKind } from '../validate/secret-spec.js';

const FILTERS = ['id', 'label', 'name', 'names'] as const;

type Stored = Secret | Config;

export function secretRoutes(r: Router, d: Deps): void {
  for (const kind of ['secret', 'config'] as const) routesFor(r, d.ctx, kind);
}

function routesFor(r: Router, ctx: ManagerContext, kind: SecretKind): void {
  const base = `/${kind}s`;

  r.add('POST', `${base}/create`, async (req) => {
    const spec = validateSecretSpec(kind, await req.json(), true);
    const key = dataKey(ctx, kind);
    const id = ctx.newId();
    const object: Stored = {
      ID: id,
      Spec: { Name: spec.Name, Labels: spec.Labels },
      ShoalData: key.seal(aadFor(kind, id), spec.data!),
    } as Stored;
    // The store refuses a taken name (409), whoever got there first.
    await commitOps(ctx, [{ op: 'create', kind, object }]);
    return { status: 201, body: { ID: id } };
  });

  r.add('GET', base, async (req) => {
    const f = parseFilters(req.query.get('filters'), FILTERS);
    const store = await readStore(ctx);
    const list = store
      .list(kind)
      .filter((o: Stored) => f.prefix('id', o.ID) && f.prefix('name', o.Spec.Name) && f.exact('names', f.has('names') ? o.Spec.Name : undefined) && f.labels('label', o.Spec.Labels))
      .sort((a: Stored, b: Stored) => a.Spec.Name.localeCompare(b.Spec.Name))
      .map((o: Stored) => shape(ctx, kind, o));
    return { body: list };
  });

  r.add('GET', `${base}/:id`, async (req) => {
    const o = resolve(await readStore(ctx), kind, req.params.id!);
    return { body: shape(ctx, kind, o) };
  });

  r.add('POST', `${base}/:id/update`, async (req) => {
    const version = versionParam(req.query, kind);
    const spec = validateSecretSpec(kind, await req.json(), false);
    const cur = resolve(await readStore(ctx), kind, req.params.id!) as Stored;
    // SwarmKit: "only updates to Labels are allowed". Sending the same data back (a config read, edited, written) is not a change.
    if (spec.Name !== cur.Spec.Name) throw badRequest(`only updates to Labels are allowed: the name cannot change (${cur.Spec.Name})`, 'Spec.Name');
    if (spec.data !== undefined && !spec.data.equals(openData(ctx, kind, cur))) throw badRequest(`only updates to Labels are allowed: a ${kind}'s data cannot change (create a new ${kind})`, 'Spec.Data');
    const next = { ...cur, Spec: { Name: cur.Spec.Name, Labels: spec.Labels } } as Stored;
    await commitOps(ctx, [{ op: 'update', kind, object: next, expect: version }]);
    return {};
  });

  r.add('DELETE', `${base}/:id`, async (req) => {
    const cur = resolve(await readStore(ctx), kind, req.params.id!);
    // The store refuses (409, naming the services) while any service references it.
    await commitOps(ctx, [{ op: 'delete', kind, id: cur.ID }]);
    return { status: 204 };
  });
}

function dataKey(ctx: ManagerContext, kind: SecretKind): DataKey {
  const key = ctx.dataKey?.() ?? null;
  if (!key) throw unavailable(`this manager holds no cluster data key, so it cannot seal or open ${kind} data: use another manager, or join this one again`);
  return key;
}

function openData(ctx: ManagerContext, kind: SecretKind, o: Stored): Buffer {
  if (!o.ShoalData) return Buffer.alloc(0);
  return dataKey(ctx, kind).open(aadFor(kind, o.ID), o.ShoalData);
}

/** Docker's shapes: a secret without its data; a config with it (base64), as dockerd returns it. */
function shape(ctx: ManagerContext, kind: SecretKind, o: Stored): Record<string, unknown> {
  const spec: Record<string, unknown> = { Name: o.Spec.Name, Labels: o.Spec.Labels ?? {} };
  if (kind === 'config') spec.Data = openData(ctx, kind, o).toString('base64');
  return { ID: o.ID, Version: o.Version, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, Spec: spec };
}
