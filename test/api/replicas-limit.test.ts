/**
 * Replica counts are bounded: a service asks for at most MAX_REPLICAS tasks
 * (Replicated.Replicas, ReplicatedJob.MaxConcurrent). Anything beyond, and
 * anything that is not a non-negative integer, is a 400 naming the field —
 * on create and on update — and changes nothing in the store.
 */
import t from 'tap';
import { MAX_REPLICAS } from '../../src/model/index.js';
import { spec, startApi } from './helpers.js';

const REPLICAS = 'Spec.Mode.Replicated.Replicas';
const MAX_CONCURRENT = 'Spec.Mode.ReplicatedJob.MaxConcurrent';

t.test('create: Replicas and MaxConcurrent beyond the limit, negative or fractional are refused with a 400 naming the field', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['2^53 replicas', { Replicated: { Replicas: 2 ** 53 } }, REPLICAS, new RegExp(`must be at most ${MAX_REPLICAS} .*not 9007199254740992$`)],
    ['1e15 replicas', { Replicated: { Replicas: 1e15 } }, REPLICAS, new RegExp(`must be at most ${MAX_REPLICAS} .*not 1000000000000000$`)],
    ['one over the limit', { Replicated: { Replicas: MAX_REPLICAS + 1 } }, REPLICAS, new RegExp(`must be at most ${MAX_REPLICAS} `)],
    ['negative', { Replicated: { Replicas: -1 } }, REPLICAS, /must be >= 0$/],
    ['fractional', { Replicated: { Replicas: 1.5 } }, REPLICAS, /must be an integer, not 1\.5$/],
    ['a string', { Replicated: { Replicas: '3' } }, REPLICAS, /must be a number, not "3"$/],
    ['job concurrency 1e15', { ReplicatedJob: { MaxConcurrent: 1e15, TotalCompletions: 1 } }, MAX_CONCURRENT, new RegExp(`must be at most ${MAX_REPLICAS} `)],
    ['negative job concurrency', { ReplicatedJob: { MaxConcurrent: -2 } }, MAX_CONCURRENT, /must be >= 0$/],
  ];
  for (const [what, Mode, field, msg] of cases) {
    const r = await api.req('POST', '/v1.47/services/create', spec('web', 1, { Mode }));
    t.equal(r.status, 400, `${what}: 400`);
    t.equal(r.body?.code, 'api.BAD_REQUEST', `${what}: code`);
    t.ok(typeof r.body?.message === 'string' && r.body.message.startsWith(`${field}: `), `${what}: names ${field} (${r.body?.message})`);
    t.match(r.body?.message, msg, `${what}: says why`);
  }
  t.equal(api.ctx.store.count('service'), 0, 'nothing was created');

  const atLimit = await api.req('POST', '/services/create', spec('big', MAX_REPLICAS));
  t.equal(atLimit.status, 201, 'exactly the limit is accepted');
  t.equal(api.ctx.store.get('service', atLimit.body.ID)!.Spec.Mode.Replicated?.Replicas, MAX_REPLICAS);
  const job = await api.req('POST', '/services/create', spec('job', 1, { Mode: { ReplicatedJob: { MaxConcurrent: MAX_REPLICAS, TotalCompletions: 1e12 } } }));
  t.equal(job.status, 201, 'a job at the concurrency limit is accepted (its total completions are not a count of live tasks)');
});

t.test('update (docker service scale): beyond the limit is a 400 and the service keeps its spec', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const created = await api.req('POST', '/services/create', spec('web', 3));
  t.equal(created.status, 201);
  const id = created.body.ID as string;
  const version = api.ctx.store.get('service', id)!.Version.Index;
  const r = await api.req('POST', `/services/${id}/update?version=${version}`, spec('web', 2 ** 53));
  t.equal(r.status, 400);
  t.ok(r.body.message.startsWith(`${REPLICAS}: `), r.body.message);
  const s = api.ctx.store.get('service', id)!;
  t.equal(s.Spec.Mode.Replicated?.Replicas, 3, 'unchanged');
  t.equal(s.Version.Index, version, 'not even a new version');
  const ok = await api.req('POST', `/services/${id}/update?version=${version}`, spec('web', 5));
  t.equal(ok.status, 200, 'a sane scale still works');
});
