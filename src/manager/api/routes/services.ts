/**
 * Services: create, list (filters, `?status=true` task counts), inspect
 * (`?insertDefaults=true`), update (`?version=N`, `?rollback=previous`),
 * remove. Removing deletes only the service object: the orchestrator sees
 * the delete and shuts its tasks down. Network targets are resolved to IDs
 * here; the store allocates the endpoint (VIPs, published ports — a port
 * another service publishes is refused there, naming the port's field).
 */
import { isJobMode } from '../../../model/index.js';
import type { Service, ServiceSpec } from '../../../model/index.js';
import { serviceStatus } from '../derived.js';
import { badRequest } from '../errors.js';
import { parseFilters } from '../filters.js';
import { boolParam, versionParam } from '../http.js';
import { randomName } from '../names.js';
import type { Deps } from '../options.js';
import { resolve } from '../resolve.js';
import type { Router } from '../router.js';
import { defaultUpdateConfig, serviceShape, withServiceDefaults } from '../shapes.js';
import { commitOps, readStore } from '../state.js';
import { fail } from '../validate/check.js';
import { modeName, validateServiceSpec } from '../validate/service-spec.js';
import { resolveSecretRefs } from '../secret-refs.js';
import { resolveNetworkRefs } from '../network-refs.js';

const SERVICE_FILTERS = ['id', 'label', 'mode', 'name', 'runtime'] as const;
const MODE_FILTER: Record<string, ReturnType<typeof modeName>> = {
  replicated: 'Replicated',
  global: 'Global',
  'replicated-job': 'ReplicatedJob',
  'global-job': 'GlobalJob',
};

export function serviceRoutes(r: Router, d: Deps): void {
  const { ctx } = d;

  r.add('POST', '/services/create', async (req) => {
    const spec = withCreateDefaults(validateServiceSpec(await req.json()));
    const store = await readStore(ctx);
    if (spec.Name === '') spec.Name = randomName((n) => store.find('service', n)?.Spec.Name === n);
    resolveNetworkRefs(store, spec);
    resolveSecretRefs(store, spec);
    const id = ctx.newId();
    // A job's first run is iteration 0 (SwarmKit: the version before the create).
    const job = isJobMode(spec.Mode) ? { JobStatus: { JobIteration: { Index: 0 }, LastExecution: ctx.now() } } : {};
    await commitOps(ctx, [{ op: 'create', kind: 'service', object: { ID: id, Spec: spec, ...job } }]);
    return { status: 201, body: { ID: id, Warnings: [] } };
  });

  r.add('GET', '/services', async (req) => {
    const f = parseFilters(req.query.get('filters'), SERVICE_FILTERS);
    for (const m of f.get('mode')) if (!MODE_FILTER[m]) fail('filters', `invalid mode filter value ${JSON.stringify(m)} (one of ${Object.keys(MODE_FILTER).join(', ')})`);
    const withStatus = boolParam(req.query, 'status');
    const store = await readStore(ctx);
    const modes = f.get('mode').map((m) => MODE_FILTER[m]);
    const list = store
      .list('service')
      .filter(
        (s) =>
          f.prefix('id', s.ID) &&
          f.prefix('name', s.Spec.Name) &&
          f.labels('label', s.Spec.Labels) &&
          (modes.length === 0 || modes.includes(modeName(s.Spec.Mode))) &&
          f.exact('runtime', s.Spec.TaskTemplate.Runtime || 'container'),
      )
      .map((s) => serviceShape(s, withStatus ? serviceStatus(store, s) : undefined));
    return { body: list };
  });

  r.add('GET', '/services/:id', async (req) => {
    const s = resolve(await readStore(ctx), 'service', req.params.id!);
    if (!boolParam(req.query, 'insertDefaults')) return { body: serviceShape(s) };
    return {
      body: serviceShape({ ...s, Spec: withServiceDefaults(s.Spec), ...(s.PreviousSpec ? { PreviousSpec: withServiceDefaults(s.PreviousSpec) } : {}) }),
    };
  });

  r.add('POST', '/services/:id/update', async (req) => {
    const version = versionParam(req.query, 'service');
    const rollback = req.query.get('rollback') ?? '';
    if (rollback !== '' && rollback !== 'previous') throw badRequest(`must be "previous" or empty, not ${JSON.stringify(rollback)}`, 'rollback');
    const registryAuthFrom = req.query.get('registryAuthFrom') ?? '';
    if (!['', 'spec', 'previous-spec'].includes(registryAuthFrom)) throw badRequest(`must be "spec" or "previous-spec"`, 'registryAuthFrom');
    // With rollback=previous the body is ignored (as in dockerd), but must still be well-formed.
    const body = await req.json();
    const spec = rollback ? null : withCreateDefaults(validateServiceSpec(body));
    const store = await readStore(ctx);
    const cur = resolve(store, 'service', req.params.id!);
    let next: Service;
    if (spec === null) {
      if (!cur.PreviousSpec) throw badRequest(`service ${cur.Spec.Name} does not have a previous spec to roll back to`, 'rollback');
      next = {
        ...cur,
        Spec: cur.PreviousSpec,
        PreviousSpec: cur.Spec,
        // A job has no rolling update to report on: the previous spec is simply its next run.
        ...(isJobMode(cur.Spec.Mode) ? {} : { UpdateStatus: { State: 'rollback_started' as const, Message: 'manually requested rollback', StartedAt: ctx.now() } }),
      };
    } else {
      if (spec.Name === '') spec.Name = cur.Spec.Name;
      if (spec.Name !== cur.Spec.Name) throw badRequest('renaming services is not supported', 'Spec.Name');
      const from = modeName(cur.Spec.Mode);
      const to = modeName(spec.Mode);
      if (from !== to) throw badRequest(`changing a service's mode (${from} to ${to}) is not supported: remove and re-create it`, 'Spec.Mode');
      resolveNetworkRefs(store, spec);
      resolveSecretRefs(store, spec);
      // A new spec starts a new update: the orchestrator reports its progress afresh.
      const { UpdateStatus: _old, ...rest } = cur;
      next = { ...rest, Spec: spec, PreviousSpec: cur.Spec };
    }
    // A job runs again with every new spec (SwarmKit: the iteration is the version it replaces).
    if (isJobMode(next.Spec.Mode)) next = { ...next, JobStatus: { JobIteration: { Index: cur.Version.Index }, LastExecution: ctx.now() } };
    await commitOps(ctx, [{ op: 'update', kind: 'service', object: next, expect: version }]);
    return { body: { Warnings: [] } };
  });

  r.add('DELETE', '/services/:id', async (req) => {
    const cur = resolve(await readStore(ctx), 'service', req.params.id!);
    await commitOps(ctx, [{ op: 'delete', kind: 'service', id: cur.ID }]);
    return {};
  });

}

/** What dockerd stores for a spec sent without them: the default update and rollback configs (jobs have none). */
function withCreateDefaults(spec: ServiceSpec): ServiceSpec {
  if (isJobMode(spec.Mode)) return spec;
  return {
    ...spec,
    UpdateConfig: spec.UpdateConfig ?? defaultUpdateConfig(),
    RollbackConfig: spec.RollbackConfig ?? defaultUpdateConfig(),
  };
}
