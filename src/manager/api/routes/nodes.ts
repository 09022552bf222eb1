/**
 * Nodes: list (filters), inspect, update (availability, labels, role), remove.
 *
 * A role change is a Raft membership change, so it goes through
 * ctx.promote/ctx.demote (carried out by the leader), not just a spec edit.
 * Order: the client's `?version=N` is checked first, then the role change
 * (the step that may refuse, e.g. demoting the last manager — refused before
 * anything is written), then the rest of the spec is committed against the
 * version the role change left. A client therefore never overwrites a change
 * it did not see, and a refused demotion changes nothing.
 */
import type { Store } from '../../store/store.js';
import type { Node } from '../../../model/index.js';
import { conflict, OUT_OF_SEQUENCE } from '../errors.js';
import { parseFilters } from '../filters.js';
import { boolParam, versionParam } from '../http.js';
import type { Deps } from '../options.js';
import { resolve } from '../resolve.js';
import type { Router } from '../router.js';
import { canonical, nodeShape } from '../shapes.js';
import { call, commitOps, readStore } from '../state.js';
import { validateNodeSpec } from '../validate/node-spec.js';
import { fail } from '../validate/check.js';

const NODE_FILTERS = ['id', 'label', 'membership', 'name', 'node.label', 'role'] as const;

export function nodeRoutes(r: Router, d: Deps): void {
  const { ctx } = d;
  // `self` names the node serving the request, as the docker CLI's `node inspect self` means it
  // (the CLI resolves it there through /info, but not for `node update/promote/demote self`).
  const find = (store: Store, ref: string): Node => resolve(store, 'node', ref === 'self' && !store.find('node', 'self') ? ctx.status().nodeId : ref);

  r.add('GET', '/nodes', async (req) => {
    const f = parseFilters(req.query.get('filters'), NODE_FILTERS);
    for (const role of f.get('role')) if (role !== 'manager' && role !== 'worker') fail('filters', `invalid role filter value ${JSON.stringify(role)} (manager or worker)`);
    for (const m of f.get('membership')) if (m !== 'accepted' && m !== 'pending') fail('filters', `invalid membership filter value ${JSON.stringify(m)} (accepted or pending)`);
    const store = await readStore(ctx);
    const nodes = store
      .list('node')
      .filter(
        (n) =>
          f.prefix('id', n.ID) &&
          f.prefix('name', n.Spec.Name || n.Description?.Hostname) &&
          f.exact('role', n.Spec.Role) &&
          // Shoal admits nodes at join (the token is the acceptance), so every stored node is accepted.
          f.exact('membership', 'accepted') &&
          f.labels('label', n.Description?.Engine?.Labels) &&
          f.labels('node.label', n.Spec.Labels),
      )
      .map((n) => nodeShape(n, ctx.status()));
    return { body: nodes };
  });

  r.add('GET', '/nodes/:id', async (req) => ({ body: nodeShape(find(await readStore(ctx), req.params.id!), ctx.status()) }));

  r.add('POST', '/nodes/:id/update', async (req) => {
    const version = versionParam(req.query, 'node');
    const spec = validateNodeSpec(await req.json());
    const cur = find(await readStore(ctx), req.params.id!);
    if (cur.Version.Index !== version) {
      throw conflict(`${OUT_OF_SEQUENCE}: node ${cur.ID} is at version ${cur.Version.Index}, not ${version}`);
    }
    let base: Node = cur;
    if (spec.Role !== cur.Spec.Role) {
      await call(() => (spec.Role === 'manager' ? ctx.promote(cur.ID) : ctx.demote(cur.ID)));
      base = find(await readStore(ctx), cur.ID);
    }
    if (canonical(base.Spec) !== canonical(spec)) {
      await commitOps(ctx, [{ op: 'update', kind: 'node', object: { ...base, Spec: spec }, expect: base.Version.Index }]);
    }
    return {};
  });

  r.add('DELETE', '/nodes/:id', async (req) => {
    const force = boolParam(req.query, 'force');
    const cur = find(await readStore(ctx), req.params.id!);
    await call(() => ctx.removeNode(cur.ID, force));
    return {};
  });
}
