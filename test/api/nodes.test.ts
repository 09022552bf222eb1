import t from 'tap';
import { RaftError } from '../../src/raft/errors.js';
import { startApi, type TestApi } from './helpers.js';

async function cluster(): Promise<TestApi & { w1: string; w2: string; m2: string }> {
  const api = await startApi();
  const w1 = api.ctx.addNode({ id: 'aaa111worker000000000000a', hostname: 'wrk-1', labels: { zone: 'a', ssd: 'true' }, engineLabels: { kernel: 'new' } });
  const w2 = api.ctx.addNode({ id: 'aaa222worker000000000000b', hostname: 'wrk-2', labels: { zone: 'b' }, state: 'down' });
  const m2 = api.ctx.addNode({ id: 'bbb333manager00000000000c', hostname: 'mgr-2', role: 'manager' });
  return { ...api, w1, w2, m2 };
}

const enc = (f: unknown) => encodeURIComponent(JSON.stringify(f));

t.test('GET /nodes lists Docker-shaped nodes', async (t) => {
  const api = await cluster();
  t.teardown(api.close);
  const r = await api.req('GET', '/v1.47/nodes');
  t.equal(r.status, 200);
  t.equal(r.body.length, 4);
  const w1 = r.body.find((n: { ID: string }) => n.ID === api.w1);
  t.match(w1, {
    Version: { Index: Number },
    CreatedAt: /^\d{4}-\d\d-\d\dT/,
    Spec: { Role: 'worker', Availability: 'active', Labels: { zone: 'a' } },
    Description: { Hostname: 'wrk-1', Platform: { OS: 'linux' }, Engine: { EngineVersion: '0.1.0', Labels: { kernel: 'new' }, Plugins: [] } },
    Status: { State: 'ready', Addr: String },
  });
  const self = r.body.find((n: { ID: string }) => n.ID === api.ctx.selfId);
  t.match(self.ManagerStatus, { Leader: true, Reachability: 'reachable', Addr: '127.0.0.1:4242' });
});

t.test('node filters, both encodings', async (t) => {
  const api = await cluster();
  t.teardown(api.close);
  const ids = async (f: unknown) => {
    const r = await api.req('GET', `/nodes?filters=${enc(f)}`);
    t.equal(r.status, 200, JSON.stringify(f));
    return r.body.map((n: { Description: { Hostname: string } }) => n.Description.Hostname).sort();
  };
  t.same(await ids({ role: { manager: true } }), ['mgr-1', 'mgr-2']);
  t.same(await ids({ role: ['worker'] }), ['wrk-1', 'wrk-2'], 'list encoding');
  t.same(await ids({ id: { aaa: true } }), ['wrk-1', 'wrk-2'], 'id prefix');
  t.same(await ids({ id: ['aaa1'] }), ['wrk-1']);
  t.same(await ids({ name: { 'wrk-2': true } }), ['wrk-2']);
  t.same(await ids({ name: ['mgr'] }), ['mgr-1', 'mgr-2'], 'name prefix');
  t.same(await ids({ 'node.label': ['zone'] }), ['wrk-1', 'wrk-2'], 'label present');
  t.same(await ids({ 'node.label': ['zone=a'] }), ['wrk-1']);
  t.same(await ids({ 'node.label': ['zone=a', 'ssd=true'] }), ['wrk-1'], 'all labels must hold');
  t.same(await ids({ 'node.label': ['zone=a', 'ssd=false'] }), []);
  t.same(await ids({ label: ['kernel=new'] }), ['wrk-1'], 'label = engine labels');
  t.same(await ids({ membership: ['accepted'] }), ['mgr-1', 'mgr-2', 'wrk-1', 'wrk-2']);
  t.same(await ids({ membership: ['pending'] }), []);
  t.same(await ids({ role: ['worker'], 'node.label': ['zone=b'] }), ['wrk-2'], 'keys AND');
  t.same(await ids({ name: { 'wrk-1': true, 'wrk-2': true } }), ['wrk-1', 'wrk-2'], 'values OR');
  t.same(await ids({ name: { 'wrk-1': false } }), [], 'a false value is not a value');

  for (const [f, re] of [
    [{ color: ['red'] }, /^filters: invalid filter 'color'/],
    [{ role: ['boss'] }, /^filters: invalid role filter value "boss"/],
    [{ membership: ['maybe'] }, /^filters: invalid membership/],
    [{ role: 'manager' }, /^filters: values of 'role' must be/],
  ] as const) {
    const r = await api.req('GET', `/nodes?filters=${enc(f)}`);
    t.equal(r.status, 400, JSON.stringify(f));
    t.match(r.body.message, re);
  }
  const r = await api.req('GET', '/nodes?filters=%7Bnope');
  t.equal(r.status, 400);
  t.match(r.body.message, /^filters: malformed JSON/);
});

t.test('GET /nodes/{id}: by ID, hostname, unique prefix, self; 404 and ambiguous', async (t) => {
  const api = await cluster();
  t.teardown(api.close);
  t.equal((await api.req('GET', `/nodes/${api.w1}`)).body.ID, api.w1);
  t.equal((await api.req('GET', '/nodes/wrk-2')).body.ID, api.w2);
  t.equal((await api.req('GET', '/nodes/bbb')).body.ID, api.m2);
  t.equal((await api.req('GET', '/nodes/self')).body.ID, api.ctx.selfId);
  const nf = await api.req('GET', '/nodes/nosuchnode');
  t.equal(nf.status, 404);
  t.equal(nf.body.message, 'node nosuchnode not found');
  const amb = await api.req('GET', '/nodes/aaa');
  t.equal(amb.status, 400);
  t.match(amb.body.message, /ambiguous \(2 matches found\)/);
});

t.test('POST /nodes/{id}/update: availability and labels, with ?version=', async (t) => {
  const api = await cluster();
  t.teardown(api.close);
  const cur = (await api.req('GET', `/nodes/${api.w1}`)).body;
  const r = await api.req('POST', `/v1.47/nodes/${api.w1}/update?version=${cur.Version.Index}`, { ...cur.Spec, Availability: 'drain', Labels: { zone: 'c' } });
  t.equal(r.status, 200);
  const after = (await api.req('GET', `/nodes/${api.w1}`)).body;
  t.match(after.Spec, { Availability: 'drain', Labels: { zone: 'c' }, Role: 'worker' });
  t.ok(after.Version.Index > cur.Version.Index);
  t.same(api.ctx.calls.promote, []);

  const stale = await api.req('POST', `/nodes/${api.w1}/update?version=${cur.Version.Index}`, cur.Spec);
  t.equal(stale.status, 409);
  t.match(stale.body.message, /^update out of sequence/);
  t.equal(api.ctx.store.get('node', api.w1)!.Spec.Availability, 'drain', 'a stale update changes nothing');

  const v = after.Version.Index;
  for (const [body, re] of [
    [{ Availability: 'active' }, /^Spec\.Role: must be "worker" or "manager"/],
    [{ Role: 'worker', Availability: 'asleep' }, /^Spec\.Availability: must be one of "active", "pause", "drain", not "asleep"/],
    [{ Role: 'worker', Availability: 'active', Labels: { zone: 3 } }, /^Spec\.Labels\.zone: must be a string/],
    [[1, 2], /^Spec: must be an object/],
  ] as const) {
    const bad = await api.req('POST', `/nodes/${api.w1}/update?version=${v}`, body);
    t.equal(bad.status, 400, JSON.stringify(body));
    t.match(bad.body.message, re);
  }
  const noVersion = await api.req('POST', `/nodes/${api.w1}/update`, after.Spec);
  t.equal(noVersion.status, 400);
  t.match(noVersion.body.message, /^version: invalid node version/);
  t.equal((await api.req('POST', `/nodes/nosuch/update?version=1`, after.Spec)).status, 404);
});

t.test('role changes go through ctx.promote / ctx.demote', async (t) => {
  const api = await cluster();
  t.teardown(api.close);
  let cur = (await api.req('GET', `/nodes/${api.w1}`)).body;
  const p = await api.req('POST', `/nodes/${api.w1}/update?version=${cur.Version.Index}`, { ...cur.Spec, Role: 'manager', Labels: { zone: 'z' } });
  t.equal(p.status, 200);
  t.same(api.ctx.calls.promote, [api.w1]);
  cur = (await api.req('GET', `/nodes/${api.w1}`)).body;
  t.match(cur, { Spec: { Role: 'manager', Labels: { zone: 'z' } }, ManagerStatus: { Reachability: 'reachable' } }, 'role and the rest of the spec both applied');

  const d = await api.req('POST', `/nodes/${api.w1}/update?version=${cur.Version.Index}`, { ...cur.Spec, Role: 'worker' });
  t.equal(d.status, 200);
  t.same(api.ctx.calls.demote, [api.w1]);
  t.equal(api.ctx.store.get('node', api.w1)!.Spec.Role, 'worker');

  // Demoting the last manager is refused before anything is written.
  await api.req('POST', `/nodes/${api.m2}/update?version=${api.ctx.store.get('node', api.m2)!.Version.Index}`, { ...api.ctx.store.get('node', api.m2)!.Spec, Role: 'worker' });
  const self = api.ctx.store.get('node', api.ctx.selfId)!;
  const last = await api.req('POST', `/nodes/${self.ID}/update?version=${self.Version.Index}`, { ...self.Spec, Role: 'worker', Availability: 'drain' });
  t.equal(last.status, 409);
  t.match(last.body.message, /last manager/);
  t.match(api.ctx.store.get('node', self.ID)!.Spec, { Role: 'manager', Availability: 'active' }, 'nothing changed');

  // No quorum for the membership change: 503.
  api.ctx.failMembership = new RaftError('CONF_CHANGE_PENDING', 'another change is in progress');
  const w2 = api.ctx.store.get('node', api.w2)!;
  const busy = await api.req('POST', `/nodes/${api.w2}/update?version=${w2.Version.Index}`, { ...w2.Spec, Role: 'manager' });
  t.equal(busy.status, 503);
  t.equal(api.ctx.store.get('node', api.w2)!.Spec.Role, 'worker');
});

t.test('DELETE /nodes/{id}: refused while up (409), forced, 404', async (t) => {
  const api = await cluster();
  t.teardown(api.close);
  const up = await api.req('DELETE', '/nodes/wrk-1');
  t.equal(up.status, 409);
  t.match(up.body.message, /not down and can't be removed/);
  t.same(api.ctx.calls.removeNode, [[api.w1, false]]);
  t.equal((await api.req('DELETE', '/nodes/wrk-2')).status, 200, 'a down node goes without force');
  t.equal((await api.req('DELETE', '/nodes/wrk-1?force=1')).status, 200);
  t.same(api.ctx.calls.removeNode.at(-1), [api.w1, true]);
  t.equal(api.ctx.store.get('node', api.w1), undefined);
  const gone = await api.req('DELETE', '/nodes/wrk-1');
  t.equal(gone.status, 404);
  t.equal(gone.body.message, 'node wrk-1 not found');
  const mgr = await api.req('DELETE', `/nodes/${api.m2}?force=true`);
  t.equal(mgr.status, 409);
  t.match(mgr.body.message, /must be demoted/);
});
