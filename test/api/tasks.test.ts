import t from 'tap';
import { spec, startApi } from './helpers.js';

const enc = (f: unknown) => encodeURIComponent(JSON.stringify(f));

t.test('tasks: list, names, filters, inspect', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const ctx = api.ctx;
  const web = (await api.req('POST', '/services/create', spec('web', 2))).body.ID;
  const agent = (await api.req('POST', '/services/create', spec('agent', 1, { Mode: { Global: {} } }))).body.ID;
  const w1 = ctx.addNode({ id: 'wnode1000000000000000000a', hostname: 'wrk-1' });
  const t1 = ctx.addTask(web, 1, { state: 'running', nodeId: w1, labels: { color: 'blue' } });
  const t2 = ctx.addTask(web, 2, { state: 'running', nodeId: ctx.selfId });
  const t0 = ctx.addTask(web, 1, { state: 'shutdown', desired: 'shutdown', nodeId: ctx.selfId });
  const g = ctx.addTask(agent, 0, { state: 'running', nodeId: w1 });

  const all = await api.req('GET', '/v1.47/tasks');
  t.equal(all.status, 200);
  t.equal(all.body.length, 4);
  const one = all.body.find((x: { ID: string }) => x.ID === t1);
  t.match(one, {
    Name: 'web.1',
    ServiceID: web,
    Slot: 1,
    NodeID: w1,
    DesiredState: 'running',
    Status: { State: 'running', Timestamp: /^\d{4}-/, Message: String },
    Spec: { ContainerSpec: { Image: 'busybox' } },
    Labels: { color: 'blue' },
    Version: { Index: Number },
  });
  t.equal(all.body.find((x: { ID: string }) => x.ID === g).Name, `agent.${w1}`, 'global task: service.node');

  const ids = async (f: unknown, status = 200) => {
    const r = await api.req('GET', `/tasks?filters=${enc(f)}`);
    t.equal(r.status, status, JSON.stringify(f));
    return status === 200 ? r.body.map((x: { ID: string }) => x.ID).sort() : r.body.message;
  };
  const sorted = (...a: string[]) => a.sort();
  t.same(await ids({ service: { web: true } }), sorted(t1, t2, t0), 'service by name');
  t.same(await ids({ service: [web.slice(0, 6)] }), sorted(t1, t2, t0), 'service by ID prefix');
  t.same(await ids({ service: ['web', 'agent'] }), sorted(t1, t2, t0, g));
  t.same(await ids({ node: ['wrk-1'] }), sorted(t1, g), 'node by hostname');
  t.same(await ids({ node: { [ctx.selfId]: true } }), sorted(t2, t0));
  t.same(await ids({ 'desired-state': ['running'] }), sorted(t1, t2, g));
  t.same(await ids({ 'desired-state': ['shutdown'] }), [t0]);
  t.same(await ids({ id: [t1.slice(0, 8)] }), [t1]);
  t.same(await ids({ name: ['web.1'] }), sorted(t1, t0));
  t.same(await ids({ name: ['web.'] }), sorted(t1, t2, t0), 'name prefix');
  t.same(await ids({ label: ['color=blue'] }), [t1]);
  t.same(await ids({ service: ['web'], node: ['wrk-1'], 'desired-state': ['running'] }), [t1], 'keys AND');
  t.match(await ids({ service: ['nope'] }, 404), /service nope not found/);
  t.match(await ids({ node: ['nope'] }, 404), /node nope not found/);
  t.match(await ids({ 'desired-state': ['dancing'] }, 400), /^filters: invalid desired-state filter value "dancing"/);
  t.match(await ids({ slot: ['1'] }, 400), /^filters: invalid filter 'slot'/);

  const insp = await api.req('GET', `/tasks/${t2}`);
  t.equal(insp.status, 200);
  t.equal(insp.body.Name, 'web.2');
  t.equal((await api.req('GET', `/tasks/${t2.slice(0, 10)}`)).body.ID, t2, 'prefix');
  const nf = await api.req('GET', '/tasks/nope');
  t.equal(nf.status, 404);
  t.equal(nf.body.message, 'task nope not found');
});

t.test('the _up-to-date filter: tasks made from the current template', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const id = (await api.req('POST', '/services/create', spec('web', 2))).body.ID;
  const old = api.ctx.addTask(id, 1, { state: 'running', nodeId: api.ctx.selfId });
  let s = api.ctx.store.get('service', id)!;
  // Scaling keeps tasks up to date: their template did not change.
  await api.req('POST', `/services/${id}/update?version=${s.Version.Index}`, spec('web', 3));
  const f = enc({ service: [id], '_up-to-date': ['true'] });
  t.same((await api.req('GET', `/tasks?filters=${f}`)).body.map((x: { ID: string }) => x.ID), [old]);
  s = api.ctx.store.get('service', id)!;
  const img = spec('web', 3) as { TaskTemplate: { ContainerSpec: Record<string, unknown> } };
  img.TaskTemplate.ContainerSpec.Image = 'busybox:1.36';
  await api.req('POST', `/services/${id}/update?version=${s.Version.Index}`, img);
  const fresh = api.ctx.addTask(id, 1, { state: 'running', nodeId: api.ctx.selfId });
  t.same((await api.req('GET', `/tasks?filters=${f}`)).body.map((x: { ID: string }) => x.ID), [fresh], 'a new image makes old tasks stale');
});
