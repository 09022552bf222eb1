/**
 * /networks in Engine API v1.47 shapes against an in-process store: create
 * (only overlay; every field honoured or refused with a 400 naming it),
 * inspect by ID, name or prefix, list filters, remove (409 in use, 403 for
 * ingress while services publish), prune; services' network targets resolved
 * to IDs, and the endpoint and task attachments the store allocates.
 */
import t from 'tap';
import { spec, startApi } from './helpers.js';

t.test('create, inspect, list, remove', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  let r = await api.req('GET', '/v1.47/networks');
  t.same(r.body.map((n: { Name: string }) => n.Name), ['ingress'], 'a fresh cluster shows ingress');
  t.match(r.body[0], { Ingress: true, IPAM: { Config: [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }] }, Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' } });

  r = await api.req('POST', '/v1.47/networks/create', { Name: 'front', Driver: 'overlay', Attachable: true, Labels: { tier: 'web' }, CheckDuplicate: true });
  t.equal(r.status, 201);
  t.same(Object.keys(r.body).sort(), ['Id', 'Warning']);
  const id = r.body.Id as string;
  for (const ref of [id, 'front', id.slice(0, 5)]) {
    r = await api.req('GET', `/networks/${ref}`);
    t.equal(r.status, 200, ref);
    t.match(r.body, {
      Id: id,
      Name: 'front',
      Driver: 'overlay',
      Scope: 'swarm',
      Attachable: true,
      Internal: false,
      Ingress: false,
      Labels: { tier: 'web' },
      IPAM: { Driver: 'default', Config: [{ Subnet: '10.0.1.0/24', Gateway: '10.0.1.1' }] },
      Options: { 'com.docker.network.driver.overlay.vxlanid_list': '4097' },
    });
  }
  r = await api.req('POST', '/networks/create', { Name: 'back', Internal: true, IPAM: { Config: [{ Subnet: '192.168.50.0/24', Gateway: '192.168.50.254' }] } });
  t.equal(r.status, 201);
  t.match((await api.req('GET', '/networks/back')).body, { Internal: true, IPAM: { Config: [{ Subnet: '192.168.50.0/24', Gateway: '192.168.50.254' }] } });
  t.equal((await api.req('POST', '/networks/create', { Name: 'front' })).status, 409, 'names are unique');

  const names = async (f: unknown) => (await api.req('GET', `/networks?filters=${encodeURIComponent(JSON.stringify(f))}`)).body.map((n: { Name: string }) => n.Name);
  t.same(await names({}), ['back', 'front', 'ingress']);
  t.same(await names({ type: ['builtin'] }), ['ingress']);
  t.same(await names({ label: ['tier=web'] }), ['front']);
  t.same(await names({ dangling: ['true'] }), ['back', 'front']);
  t.equal((await api.req('GET', `/networks?filters=${encodeURIComponent('{"dangling":["maybe"]}')}`)).status, 400);

  r = await api.req('DELETE', '/networks/front');
  t.equal(r.status, 204);
  t.equal((await api.req('GET', `/networks/${id}`)).status, 404);
  t.equal((await api.req('DELETE', '/networks/front')).status, 404);
});

t.test('validation: 400 naming the field, nothing accepted and dropped', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const cases: [string, unknown, RegExp][] = [
    ['no name', {}, /^Name: must be provided$/],
    ['bad name', { Name: '-x' }, /^Name: /],
    ['bridge', { Name: 'x', Driver: 'bridge' }, /^Driver: only the "overlay" driver/],
    ['scope', { Name: 'x', Scope: 'local' }, /^Scope: /],
    ['ingress', { Name: 'x', Ingress: true }, /^Ingress: /],
    ['ipv6', { Name: 'x', EnableIPv6: true }, /^EnableIPv6: /],
    ['options', { Name: 'x', Options: { encrypted: '' } }, /^Options\.encrypted: /],
    ['ipam driver', { Name: 'x', IPAM: { Driver: 'dhcp' } }, /^IPAM\.Driver: /],
    ['two subnets', { Name: 'x', IPAM: { Config: [{ Subnet: '10.5.0.0/24' }, { Subnet: '10.6.0.0/24' }] } }, /^IPAM\.Config: /],
    ['ip range', { Name: 'x', IPAM: { Config: [{ Subnet: '10.5.0.0/24', IPRange: '10.5.0.0/25' }] } }, /^IPAM\.Config\[0\]\.IPRange: /],
    ['bad subnet', { Name: 'x', IPAM: { Config: [{ Subnet: '10.5.0.1/24' }] } }, /^IPAM\.Config\[0\]\.Subnet: .*host bits/],
    ['overlap', { Name: 'x', IPAM: { Config: [{ Subnet: '10.0.0.0/16' }] } }, /^IPAM\.Config\[0\]\.Subnet: .*overlaps network ingress/],
    ['gateway outside', { Name: 'x', IPAM: { Config: [{ Subnet: '10.5.0.0/24', Gateway: '10.6.0.1' }] } }, /^IPAM\.Config\[0\]\.Gateway: /],
    ['gateway alone', { Name: 'x', IPAM: { Config: [{ Gateway: '10.6.0.1' }] } }, /^IPAM\.Config\[0\]\.Gateway: a gateway needs a subnet$/],
    ['labels', { Name: 'x', Labels: { a: 1 } }, /^Labels\.a: must be a string/],
    ['unknown', { Name: 'x', Bogus: 1 }, /^Bogus: unknown field$/],
  ];
  for (const [what, body, re] of cases) {
    const r = await api.req('POST', '/networks/create', body);
    t.equal(r.status, 400, what);
    t.match(r.body?.message, re, what);
  }
  t.same((await api.req('GET', '/networks')).body.map((n: { Name: string }) => n.Name), ['ingress'], 'nothing was created');
});

t.test('services: targets resolved to IDs; endpoint and attachments allocated; removal refused while in use; prune', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const stop = api.ctx.autoConverge();
  t.teardown(stop);
  const front = (await api.req('POST', '/networks/create', { Name: 'front' })).body.Id as string;
  const back = (await api.req('POST', '/networks/create', { Name: 'back', Labels: { keep: 'yes' } })).body.Id as string;
  await api.req('POST', '/networks/create', { Name: 'spare' });
  const ingress = (await api.req('GET', '/networks/ingress')).body.Id as string;

  let r = await api.req('POST', '/services/create', spec('web', 2, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'front', Aliases: ['www'] }] }, Networks: [{ Target: back.slice(0, 6) }], EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } }));
  t.equal(r.status, 201, r.text);
  const web = r.body.ID as string;
  const s = (await api.req('GET', `/services/${web}`)).body;
  t.same(s.Spec.TaskTemplate.Networks, [{ Target: front, Aliases: ['www'] }], 'name resolved to the ID');
  t.same(s.Spec.Networks, [{ Target: back }], 'prefix resolved to the ID');
  t.same(s.Endpoint.VirtualIPs, [
    { NetworkID: front, Addr: '10.0.1.2/24' },
    { NetworkID: back, Addr: '10.0.2.2/24' },
    { NetworkID: ingress, Addr: '10.0.0.2/24' },
  ]);
  t.same(s.Endpoint.Ports, [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }]);

  // The toy orchestrator makes the tasks: each has an address on each network, all distinct.
  const deadline = Date.now() + 5000;
  let tasks: any[] = [];
  while (Date.now() < deadline) {
    tasks = (await api.req('GET', '/tasks')).body;
    if (tasks.length === 2) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  t.equal(tasks.length, 2);
  const addrs = tasks.flatMap((tk) => tk.NetworksAttachments.map((a: { Network: { ID: string }; Addresses: string[] }) => `${a.Network.ID}/${a.Addresses[0]}`));
  t.equal(addrs.length, 6);
  t.equal(new Set(addrs).size, 6, 'no address twice');
  t.match(tasks[0].NetworksAttachments[0], { Network: { ID: front, Spec: { Name: 'front' } }, Addresses: [/^10\.0\.1\.\d+\/24$/], Aliases: ['www'] });

  r = await api.req('POST', '/services/create', spec('bad', 1, { TaskTemplate: { ContainerSpec: { Image: 'busybox' }, Networks: [{ Target: 'nope' }] } }));
  t.equal(r.status, 400);
  t.match(r.body.message, /^Spec\.TaskTemplate\.Networks\[0\]\.Target: network nope not found$/);
  r = await api.req('POST', '/services/create', spec('bad', 1, { Networks: [{ Target: 'front', DriverOpts: { mtu: '1400' } }] }));
  t.match(r.body.message, /^Spec\.Networks\[0\]\.DriverOpts: /);
  r = await api.req('POST', '/services/create', spec('bad', 1, { Networks: [{ Target: 'ingress' }] }));
  t.match(r.body.message, /^Spec\.Networks\[0\]\.Target: .*ingress/);

  r = await api.req('DELETE', '/networks/front');
  t.equal(r.status, 409);
  t.match(r.body.message, /in use by service web/);
  r = await api.req('DELETE', '/networks/ingress');
  t.equal(r.status, 403);
  t.match(r.body.message, /services depend on it: web/);

  r = await api.req('POST', `/networks/prune?filters=${encodeURIComponent(JSON.stringify({ 'label!': ['keep'] }))}`);
  t.same(r.body, { NetworksDeleted: ['spare'] }, 'only the unused network without the label');
  t.equal((await api.req('DELETE', `/services/web`)).status, 200);
  r = await api.req('POST', '/networks/prune');
  t.same(r.body, { NetworksDeleted: ['back', 'front'] }, 'unused now; ingress is never pruned');
  t.equal((await api.req('DELETE', '/networks/ingress')).status, 204, 'ingress may go once nothing publishes');
});
