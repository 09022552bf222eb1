/**
 * /secrets and /configs in Engine API v1.47 shapes against an in-process
 * store: validation (400 naming the field), names unique (409), data sealed
 * at rest and never returned for secrets, labels-only updates, 409 on
 * removing a secret a service uses, and service references checked.
 */
import t from 'tap';
import { aadFor, DataKey } from '../../src/manager/secrets/data-key.js';
import { spec, startApi } from './helpers.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

t.test('secrets: create, inspect without data, list filters, sealed at rest', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const plain = 'hunter2-the-secret-' + Math.random().toString(36).slice(2);
  let r = await api.req('POST', '/v1.47/secrets/create', { Name: 'db_pass', Labels: { env: 'prod' }, Data: b64(plain) });
  t.equal(r.status, 201);
  t.match(r.body, { ID: /^[0-9a-z]{25}$/ });
  t.same(Object.keys(r.body), ['ID']);
  const id = r.body.ID as string;

  for (const ref of [id, 'db_pass', id.slice(0, 5)]) {
    r = await api.req('GET', `/secrets/${ref}`);
    t.equal(r.status, 200, `inspect by ${ref}`);
    t.same(r.body.Spec, { Name: 'db_pass', Labels: { env: 'prod' } }, 'Spec without Data');
    t.match(r.body, { ID: id, Version: { Index: Number }, CreatedAt: String, UpdatedAt: String });
  }
  r = await api.req('GET', '/secrets');
  t.notOk(r.text.includes(b64(plain)) || r.text.includes(plain), 'no data in the list');

  await api.req('POST', '/secrets/create', { Name: 'other', Data: b64('x') });
  const names = async (filters: unknown) => ((await api.req('GET', `/secrets?filters=${encodeURIComponent(JSON.stringify(filters))}`)).body as { Spec: { Name: string } }[]).map((s) => s.Spec.Name);
  t.same(await names({}), ['db_pass', 'other']);
  t.same(await names({ name: { db: true } }), ['db_pass']);
  t.same(await names({ id: [id.slice(0, 6)] }), ['db_pass']);
  t.same(await names({ label: { 'env=prod': true } }), ['db_pass']);
  t.same(await names({ label: { env: true } }), ['db_pass']);
  t.same(await names({ names: ['other'] }), ['other']);
  t.equal((await api.req('GET', `/secrets?filters=${encodeURIComponent('{"bogus":["x"]}')}`)).status, 400);

  // At rest: the stored object and a snapshot of the whole store hold ciphertext only.
  const stored = api.ctx.store.get('secret', id)!;
  t.notOk('Data' in stored.Spec, 'Spec.Data is not stored');
  t.match(stored.ShoalData, /^shoal-sealed:v1:/);
  const snap = Buffer.from(await api.ctx.store.snapshot());
  t.notOk(snap.includes(plain) || snap.includes(b64(plain)), 'the snapshot holds no plaintext');
  t.equal(api.ctx.key!.open(aadFor('secret', id), stored.ShoalData!).toString(), plain, 'the data key opens it');
  // Bound to the object: another secret's blob, or the same blob as a config, does not open.
  const other = api.ctx.store.list('secret').find((s) => s.ID !== id)!;
  t.throws(() => api.ctx.key!.open(aadFor('secret', other.ID), stored.ShoalData!), /does not open/);
  t.throws(() => api.ctx.key!.open(aadFor('config', id), stored.ShoalData!), /does not open/);
  t.throws(() => DataKey.generate().open(aadFor('secret', id), stored.ShoalData!), /does not open/);
});

t.test('secrets: validation names the field; names unique; 500 KiB limit', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const bad = async (body: unknown, re: RegExp, status = 400) => {
    const r = await api.req('POST', '/secrets/create', body);
    t.equal(r.status, status, `${JSON.stringify(body).slice(0, 80)} → ${status}`);
    t.match(r.body?.message, re);
  };
  await bad({ Name: 'a', Data: b64('x'), Driver: { Name: 'vault' } }, /^Spec\.Driver: /);
  await bad({ Name: 'a', Data: b64('x'), Templating: { Name: 'golang' } }, /^Spec\.Templating: /);
  await bad({ Data: b64('x') }, /^Spec\.Name: /);
  await bad({ Name: 'bad name', Data: b64('x') }, /^Spec\.Name: .*invalid/);
  await bad({ Name: '-x', Data: b64('x') }, /^Spec\.Name: /);
  await bad({ Name: 'x'.repeat(65), Data: b64('x') }, /^Spec\.Name: .*too long/);
  await bad({ Name: 'a' }, /^Spec\.Data: /);
  await bad({ Name: 'a', Data: '' }, /^Spec\.Data: .*larger than 0/);
  await bad({ Name: 'a', Data: 'not base64!' }, /^Spec\.Data: .*base64/);
  await bad({ Name: 'a', Data: 42 }, /^Spec\.Data: /);
  await bad({ Name: 'a', Data: Buffer.alloc(500 * 1024 + 1, 1).toString('base64') }, /^Spec\.Data: .*500 KiB/);
  await bad('nope', /^Spec: /);
  let r = await api.req('POST', '/secrets/create', { Name: 'x'.repeat(64), Data: Buffer.alloc(500 * 1024, 1).toString('base64') });
  t.equal(r.status, 201, '64 characters and exactly 500 KiB are accepted');
  r = await api.req('POST', '/secrets/create', { Name: 'dup.name_1', Data: b64('1') });
  t.equal(r.status, 201);
  await bad({ Name: 'dup.name_1', Data: b64('2') }, /already exists/, 409);
  t.equal((await api.req('GET', '/secrets/nope')).status, 404);
});

t.test('secrets: labels-only update; data change refused; stale version 409', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const { ID: id } = (await api.req('POST', '/secrets/create', { Name: 's1', Data: b64('v1') })).body;
  let cur = (await api.req('GET', `/secrets/${id}`)).body;
  let r = await api.req('POST', `/secrets/${id}/update?version=${cur.Version.Index}`, { Name: 's1', Labels: { a: 'b' } });
  t.equal(r.status, 200, r.text);
  t.same((await api.req('GET', `/secrets/${id}`)).body.Spec.Labels, { a: 'b' });
  r = await api.req('POST', `/secrets/${id}/update?version=${cur.Version.Index}`, { Name: 's1', Labels: {} });
  t.equal(r.status, 409, 'stale version');
  t.match(r.body.message, /update out of sequence/);
  cur = (await api.req('GET', `/secrets/${id}`)).body;
  r = await api.req('POST', `/secrets/${id}/update?version=${cur.Version.Index}`, { Name: 's1', Data: b64('v2') });
  t.equal(r.status, 400);
  t.match(r.body.message, /^Spec\.Data: only updates to Labels are allowed/);
  r = await api.req('POST', `/secrets/${id}/update?version=${cur.Version.Index}`, { Name: 's2' });
  t.equal(r.status, 400);
  t.match(r.body.message, /^Spec\.Name: only updates to Labels/);
  r = await api.req('POST', `/secrets/${id}/update`, { Name: 's1' });
  t.equal(r.status, 400, 'version is required');
});

t.test('configs return their data; same data on update is not a change', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const { ID: id } = (await api.req('POST', '/configs/create', { Name: 'nginx.conf', Labels: {}, Data: b64('server {}') })).body;
  const c = (await api.req('GET', '/configs/nginx.conf')).body;
  t.same(c.Spec, { Name: 'nginx.conf', Labels: {}, Data: b64('server {}') });
  t.match(api.ctx.store.get('config', id)!.ShoalData, /^shoal-sealed:v1:/, 'configs are sealed at rest too');
  let r = await api.req('POST', `/configs/${id}/update?version=${c.Version.Index}`, { ...c.Spec, Labels: { x: 'y' } });
  t.equal(r.status, 200, r.text);
  r = await api.req('POST', `/configs/${id}/update?version=${c.Version.Index + 1}`, { ...c.Spec, Data: b64('other') });
  t.equal(r.status, 400);
  t.equal((await api.req('GET', '/configs')).body.length, 1);
  t.equal((await api.req('POST', '/configs/create', { Name: 'c', Data: b64('x'), Templating: { Name: 'golang' } })).status, 400);
});

t.test('services reference secrets: unknown → 400 naming it; removing a used one → 409 naming the service', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const { ID: sid } = (await api.req('POST', '/secrets/create', { Name: 'api_key', Data: b64('k') })).body;
  const { ID: cid } = (await api.req('POST', '/configs/create', { Name: 'app.yml', Data: b64('a: 1') })).body;
  const withRefs = (secrets: unknown[], configs: unknown[] = []) =>
    spec('web', 1, { TaskTemplate: { ContainerSpec: { Image: 'busybox', Secrets: secrets, Configs: configs } } });

  let r = await api.req('POST', '/services/create', withRefs([{ SecretID: 'nope', SecretName: 'missing_one', File: { Name: 'x' } }]));
  t.equal(r.status, 400);
  t.match(r.body.message, /^Spec\.TaskTemplate\.ContainerSpec\.Secrets\[0\]: secret missing_one not found/);
  r = await api.req('POST', '/services/create', withRefs([], [{ ConfigName: 'nope.yml' }]));
  t.equal(r.status, 400);
  t.match(r.body.message, /Configs\[0\]: config nope\.yml not found/);
  r = await api.req('POST', '/services/create', withRefs([{ SecretID: sid, SecretName: 'api_key', File: { Name: 'k', UID: 'root' } }]));
  t.equal(r.status, 400);
  t.match(r.body.message, /Secrets\[0\]\.File\.UID: must be a numeric ID/);
  r = await api.req('POST', '/services/create', withRefs([{ SecretID: sid, SecretName: 'api_key', File: { Name: 'k', UID: '4294967295' } }]));
  t.equal(r.status, 400);
  t.match(r.body.message, /Secrets\[0\]\.File\.UID: 4294967295 is out of range/);
  r = await api.req('POST', '/services/create', withRefs([], [{ ConfigName: 'app.yml', File: { Name: 'k', GID: '99999999999' } }]));
  t.equal(r.status, 400);
  t.match(r.body.message, /Configs\[0\]\.File\.GID: must be a numeric ID/);
  for (const bad of ['/', 'dir/', 'a//b', './a', 'a/./b', 'a\0b']) {
    r = await api.req('POST', '/services/create', withRefs([{ SecretName: 'api_key', File: { Name: bad } }]));
    t.equal(r.status, 400, `File.Name ${JSON.stringify(bad)}`);
    t.match(r.body.message, /Secrets\[0\]\.File\.Name: .* is not a file path/);
  }
  r = await api.req('POST', '/services/create', withRefs([{ SecretName: 'api_key', File: { Name: 'a' } }, { SecretName: 'api_key', File: { Name: 'a/b' } }]));
  t.equal(r.status, 400);
  t.match(r.body.message, /Secrets\[1\]\.File\.Name: "a\/b" and "a": one target is inside the other/);
  r = await api.req('POST', '/services/create', withRefs([{ SecretName: 'api_key', File: { Name: 'a' } }, { SecretName: 'api_key', File: { Name: 'a' } }]));
  t.equal(r.status, 400);
  t.match(r.body.message, /Secrets\[1\]\.File\.Name: "a" is the target of more than one secret/);
  // A secret and a config on one container path (secrets under /run/secrets/, configs under /, absolute as given).
  r = await api.req('POST', '/services/create', withRefs([{ SecretName: 'api_key', File: { Name: 'x' } }], [{ ConfigName: 'app.yml', File: { Name: '/run/secrets/x' } }]));
  t.equal(r.status, 400, 'a config on a secret\'s path');
  t.match(r.body.message, /Configs\[0\]\.File\.Name: the config would appear at "\/run\/secrets\/x", where a secret appears at "\/run\/secrets\/x"/);
  r = await api.req('POST', '/services/create', withRefs([{ SecretName: 'api_key', File: { Name: '/etc/app/key' } }], [{ ConfigName: 'app.yml', File: { Name: 'etc/app' } }]));
  t.equal(r.status, 400, 'a config path holding a secret');

  r = await api.req('POST', '/services/create', withRefs([{ SecretName: 'api_key', File: { Name: 'key', UID: '1000', GID: '1000', Mode: 0o400 } }], [{ ConfigID: cid, ConfigName: 'app.yml' }]));
  t.equal(r.status, 201, r.text);
  const svc = (await api.req('GET', '/services/web')).body;
  t.same(svc.Spec.TaskTemplate.ContainerSpec.Secrets, [{ SecretID: sid, SecretName: 'api_key', File: { Name: 'key', UID: '1000', GID: '1000', Mode: 0o400 } }], 'resolved by name, stored with its ID');
  t.same(svc.Spec.TaskTemplate.ContainerSpec.Configs, [{ ConfigID: cid, ConfigName: 'app.yml', File: { Name: 'app.yml', UID: '0', GID: '0', Mode: 0o444 } }], "Docker's File defaults");

  r = await api.req('DELETE', '/secrets/api_key');
  t.equal(r.status, 409);
  t.match(r.body.message, /secret 'api_key' is in use by the following service: web/);
  r = await api.req('DELETE', `/configs/${cid}`);
  t.equal(r.status, 409);
  t.match(r.body.message, /config 'app\.yml' is in use by the following service: web/);
  t.equal((await api.req('DELETE', '/services/web')).status, 200);
  t.equal((await api.req('DELETE', '/secrets/api_key')).status, 204);
  t.equal((await api.req('DELETE', `/configs/${cid}`)).status, 204);
  t.equal((await api.req('DELETE', '/secrets/api_key')).status, 404);
});

t.test('a manager without a data key answers 503, and nothing is stored', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  api.ctx.key = null;
  const r = await api.req('POST', '/secrets/create', { Name: 'a', Data: b64('x') });
  t.equal(r.status, 503);
  t.match(r.body.message, /no cluster data key/);
  t.equal(api.ctx.store.count('secret'), 0);
});
