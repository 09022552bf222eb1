/**
 * Unit tests of the API's pure parts: the constraint parser, filters, the
 * router, error mapping; plus the network and distribution endpoints.
 */
import t from 'tap';
import { ApiError, toApiError } from '../../src/manager/api/errors.js';
import { parseFilters } from '../../src/manager/api/filters.js';
import { Router } from '../../src/manager/api/router.js';
import { hostOf } from '../../src/manager/api/routes/system.js';
import { parseConstraint } from '../../src/manager/api/validate/constraints.js';
import { StoreError } from '../../src/manager/store/errors.js';
import { RaftError } from '../../src/raft/errors.js';
import { RaftDriverError } from '../../src/raft/driver.js';
import { TokenError } from '../../src/manager/membership/tokens.js';
import { ManagerError } from '../../src/manager/manager.js';
import { WireError } from '../../src/wire/errors.js';
import { toErrorData } from '../../src/util/errors.js';
import { startApi } from './helpers.js';

t.test('constraint parser', async (t) => {
  t.same(parseConstraint('node.role==manager'), { key: 'node.role', op: '==', value: 'manager' });
  t.same(parseConstraint(' node.labels.Zone != eu-west-1 '), { key: 'node.labels.Zone', op: '!=', value: 'eu-west-1' }, 'label names keep their case');
  t.same(parseConstraint('NODE.HOSTNAME==wrk-1'), { key: 'node.hostname', op: '==', value: 'wrk-1' }, 'fixed keys are case-insensitive');
  t.same(parseConstraint('engine.labels.os==linux'), { key: 'engine.labels.os', op: '==', value: 'linux' });
  t.same(parseConstraint('node.platform.arch==x86_64'), { key: 'node.platform.arch', op: '==', value: 'x86_64' });
  t.same(parseConstraint('node.id!=abc123'), { key: 'node.id', op: '!=', value: 'abc123' });
  t.same(parseConstraint('node.labels.path==/data/x'), { key: 'node.labels.path', op: '==', value: '/data/x' });
  for (const [bad, re] of [
    ['node.role=manager', /expected <key>==<value>/],
    ['node.role', /expected/],
    ['==manager', /key "" is not valid/],
    ['node.colour==red', /unknown key "node.colour"/],
    ['node.labels.==x', /needs a label name/],
    ['node.role==', /empty value/],
    ['node.role==chief', /manager or worker/],
    ['node.labels.a==b=c', /not allowed/],
    ['node.labels.a!==b', /not allowed/],
    ['node.labels.a==x<y', /not allowed/],
    ['node labels.a==x', /is not valid/],
  ] as const) {
    t.throws(() => parseConstraint(bad), re, bad);
  }
});

t.test('filters: both encodings, AND of keys, OR of values, prefixes, labels', async (t) => {
  const a = parseFilters('{"name":{"web":true,"api":true},"label":["a=1","b"]}', ['name', 'label']);
  const b = parseFilters('{"name":["web","api"],"label":{"a=1":true,"b":true}}', ['name', 'label']);
  for (const f of [a, b]) {
    t.ok(f.prefix('name', 'web-1'));
    t.ok(f.prefix('name', 'api'));
    t.notOk(f.prefix('name', 'db'));
    t.ok(f.labels('label', { a: '1', b: '' }));
    t.notOk(f.labels('label', { a: '2', b: 'x' }));
    t.notOk(f.labels('label', { a: '1' }));
    t.ok(f.exact('other', 'anything'), 'absent keys match');
  }
  t.notOk(parseFilters('{"name":["web"]}', ['name']).exact('name', 'web-1'));
  t.same(parseFilters(null, []).get('x'), []);
  t.same(parseFilters('', []).get('x'), []);
  t.throws(() => parseFilters('{"x":["1"]}', ['name']), /invalid filter 'x'/);
  t.throws(() => parseFilters('[1]', ['name']), /must be a JSON object/);
  t.throws(() => parseFilters('{"name":[1]}', ['name']), /must be strings/);
  t.throws(() => parseFilters('{"name":"web"}', ['name']), /must be a list/);
});

t.test('router: params, wildcard, 404 and 405', async (t) => {
  const r = new Router();
  r.add('GET', '/a/:id', (req) => ({ body: req.params }));
  r.add('GET', '/d/*name/json', (req) => ({ body: req.params }));
  t.same(r.match('GET', '/a/x%20y').params, { id: 'x y' });
  t.same(r.match('GET', '/a/x/').params, { id: 'x' }, 'a trailing slash is fine');
  t.same(r.match('GET', '/d/docker.io/library/busybox:1/json').params, { name: 'docker.io/library/busybox:1' });
  t.throws(() => r.match('GET', '/b'), { status: 404, message: 'page not found' });
  t.throws(() => r.match('POST', '/a/x'), { name: 'ApiError', message: /method POST not allowed/, status: 405 });
  t.throws(() => r.match('GET', '/a/%E0%A4%A'), { name: 'ApiError', message: /malformed path parameter/, status: 400 });
});

t.test('error mapping', async (t) => {
  t.equal(toApiError(new StoreError('NOT_FOUND', 'service x not found')).status, 404);
  t.equal(toApiError(new StoreError('NAME_CONFLICT', 'taken')).status, 409);
  t.match(toApiError(new StoreError('VERSION_CONFLICT', 'service x is at 3, not 2')), { status: 409, message: 'update out of sequence: service x is at 3, not 2' });
  t.match(toApiError(new StoreError('INVALID', 'needs a name', 'Spec.Name')), { status: 400, message: 'Spec.Name: needs a name' });
  t.equal(toApiError(new StoreError('FAILED_PRECONDITION', 'no')).status, 409);
  t.equal(toApiError(new RaftError('NOT_LEADER', 'x')).status, 503);
  t.equal(toApiError(new RaftError('INVALID_CONF_CHANGE', 'x')).status, 400);
  t.match(toApiError(new RaftDriverError('TIMEOUT', 't')), { status: 503, message: /outcome unknown/ });
  t.equal(toApiError(new TokenError('bad token')).status, 400);
  t.equal(toApiError(new ManagerError('NOT_FOUND', 'gone')).status, 404, 'membership errors reusing store codes');
  t.equal(toApiError(new ManagerError('FAILED_PRECONDITION', 'demote it first')).status, 409);
  // Forwarded from another manager: the error arrives as data inside a WireError, and maps the same.
  const forwarded = (e: Error) => new WireError('REMOTE_ERROR', `x failed on m2: ${e.message}`, 'x', toErrorData(e));
  t.match(toApiError(forwarded(new RaftError('NOT_LEADER', 'x'))), { status: 503, message: /no leader/ }, 'by qualified code, across the wire');
  t.equal(toApiError(forwarded(new StoreError('NOT_FOUND', 'service x not found'))).status, 404);
  t.equal(toApiError(forwarded(new TokenError('bad'))).status, 400);
  t.equal(toApiError(forwarded(new Error('a bug over there'))).status, 500);
  t.equal(toApiError(new Error('boom')).status, 500);
  t.equal(toApiError('string thrown').status, 500);
  const e = new ApiError(418, 'teapot');
  t.equal(toApiError(e), e);
});

t.test('hostOf', async (t) => {
  t.equal(hostOf('10.0.0.1:4242'), '10.0.0.1');
  t.equal(hostOf('[::1]:4242'), '::1');
  t.equal(hostOf('::1'), '::1');
  t.equal(hostOf('host'), 'host');
});

t.test('networks: the ingress overlay, stored networks, filters; distribution answers at once', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const list = await api.req('GET', '/v1.47/networks');
  t.equal(list.status, 200);
  t.equal(list.body.length, 1);
  t.match(list.body[0], { Name: 'ingress', Id: /^[0-9a-z]{25}$/, Driver: 'overlay', Scope: 'swarm', Ingress: true, IPAM: { Config: [{ Subnet: String }] }, Containers: {}, Labels: {} });
  const id = list.body[0].Id;
  t.equal((await api.req('GET', '/networks')).body[0].Id, id, 'a stable ID');
  t.equal((await api.req('GET', '/networks/ingress')).body.Id, id);
  t.equal((await api.req('GET', `/networks/${id.slice(0, 6)}`)).body.Name, 'ingress');
  const nf = await api.req('GET', '/networks/backend');
  t.equal(nf.status, 404);
  t.equal(nf.body.message, 'network backend not found');
  api.ctx.mustApply([{ op: 'create', kind: 'network', object: { ID: 'net1', Spec: { Name: 'backend', Driver: 'overlay', Labels: { a: 'b' }, Attachable: true } } }]);
  const names = async (f: unknown) =>
    (await api.req('GET', `/networks?filters=${encodeURIComponent(JSON.stringify(f))}`)).body.map((n: { Name: string }) => n.Name).sort();
  t.same(await names({}), ['backend', 'ingress']);
  t.same(await names({ name: ['back'] }), ['backend']);
  t.same(await names({ label: ['a=b'] }), ['backend']);
  t.same(await names({ type: ['custom'] }), ['backend']);
  t.same(await names({ driver: ['overlay'] }), ['backend', 'ingress']);
  t.match((await api.req('GET', '/networks/backend')).body, { Id: 'net1', Attachable: true, Ingress: false });

  const started = Date.now();
  const d = await api.req('GET', '/v1.47/distribution/docker.io/library/busybox:latest/json');
  t.equal(d.status, 501);
  t.match(d.body.message, /does not query registries.*docker\.io\/library\/busybox:latest/);
  t.ok(Date.now() - started < 1000);
});
