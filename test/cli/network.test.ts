/**
 * `shoal network create|ls|inspect|rm|prune` and `--network` on service
 * create / `--network-add|--network-rm` on service update, in-process against
 * a real API server over a FakeContext. Failures are one line, exit 1.
 */
import t from 'tap';
import { startApi } from '../api/helpers.js';
import { oneLineError, shoalInProcess as shoal } from './helpers.js';

t.test('network commands', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const host = `http://127.0.0.1:${api.port}`;
  const sh = (...a: string[]) => shoal('--host', host, ...a);

  let r = await sh('network', 'create', '--subnet', '10.30.0.0/24', '--gateway', '10.30.0.254', '--attachable', '--internal', '-l', 'team=a', 'front');
  t.equal(r.code, 0, r.err);
  const id = r.out.trim();
  t.match(id, /^[0-9a-z]{25}$/);
  const n = api.ctx.store.get('network', id)!;
  t.match(n, { Spec: { Name: 'front', Attachable: true, Internal: true, Labels: { team: 'a' } }, ShoalOverlay: { Subnet: '10.30.0.0/24', Gateway: '10.30.0.254', VNI: 4097 } });
  t.equal((await sh('network', 'create', '-d', 'overlay', 'back')).code, 0);

  r = await sh('network', 'ls');
  t.equal(r.code, 0, r.err);
  const rows = r.out.trim().split('\n');
  t.match(rows[0], /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
  t.same(rows.slice(1).map((l) => l.split(/\s+/).slice(1)), [['back', 'overlay', 'swarm'], ['front', 'overlay', 'swarm'], ['ingress', 'overlay', 'swarm']]);
  r = await sh('network', 'ls', '-q', '--filter', 'label=team=a');
  t.equal(r.out, `${id.slice(0, 12)}\n`, "short IDs, as docker prints them");
  t.equal((await sh("network", "ls", "-q", "--no-trunc", "-f", "name=front")).out, `${id}\n`);

  r = await sh('network', 'inspect', 'front');
  t.equal(r.code, 0, r.err);
  t.match(JSON.parse(r.out), [{ Id: id, Name: 'front', IPAM: { Config: [{ Subnet: '10.30.0.0/24', Gateway: '10.30.0.254' }] } }]);

  for (const [args, re] of [
    [['network', 'create', '-d', 'bridge', 'x'], /^shoal: .*Driver: only the "overlay" driver/],
    [['network', 'create', '--subnet', '10.30.0.0/16', 'x'], /^shoal: .*IPAM\.Config\[0\]\.Subnet: .*overlaps network front/],
    [['network', 'create', '--gateway', '10.1.1.1', 'x'], /^shoal: --gateway needs --subnet$/],
    [['network', 'inspect', 'nope'], /^shoal: .*network nope not found/],
  ] as [string[], RegExp][]) {
    r = await sh(...args);
    t.equal(oneLineError(r), null, args.join(' '));
    t.match(r.err.trim(), re, args.join(' '));
  }

  // Services: --network at create, --network-add / --network-rm at update (by name; the spec keeps IDs).
  r = await sh('service', 'create', '-d', '--name', 'web', '--network', 'front', '--network', 'name=back,alias=api', 'busybox');
  t.equal(r.code, 0, r.err);
  const back = api.ctx.store.find('network', 'back')!.ID;
  let s = api.ctx.store.find('service', 'web')!;
  t.same(s.Spec.TaskTemplate.Networks, [{ Target: id }, { Target: back, Aliases: ['api'] }]);
  t.equal(s.Endpoint!.VirtualIPs!.length, 2);
  r = await sh('network', 'rm', 'front');
  t.equal(oneLineError(r), null);
  t.match(r.err, /in use by service web/);

  r = await sh('service', 'update', '-d', '--network-rm', 'front', 'web');
  t.equal(r.code, 0, r.err);
  s = api.ctx.store.find('service', 'web')!;
  t.same(s.Spec.TaskTemplate.Networks, [{ Target: back, Aliases: ['api'] }]);
  t.same(s.Endpoint!.VirtualIPs!.map((v) => v.NetworkID), [back]);
  r = await sh('service', 'update', '-d', '--network-add', 'back', '--network-add', 'front', 'web');
  t.equal(r.code, 0, r.err);
  t.same(api.ctx.store.find('service', 'web')!.Spec.TaskTemplate.Networks, [{ Target: back }, { Target: id }], 'adding a network it has replaces the entry, never duplicates it');
  r = await sh('service', 'update', '-d', '--network-add', 'nope', 'web');
  t.equal(oneLineError(r), null);
  t.match(r.err, /network nope not found/);
  r = await sh('service', 'create', '-d', '--network', 'alias=x', 'busybox');
  t.equal(oneLineError(r), null);
  t.match(r.err, /^shoal: invalid value for --network: names no network/);

  // rm and prune.
  r = await sh('service', 'rm', 'web');
  t.equal(r.code, 0, r.err);
  r = await sh('network', 'rm', 'front');
  t.equal(r.code, 0, r.err);
  t.equal(r.out, 'front\n');
  r = await sh('network', 'prune', '-f');
  t.equal(r.code, 0, r.err);
  t.equal(r.out, 'Deleted Networks:\nback\n');
  t.same(api.ctx.store.list('network').map((x) => x.Spec.Name), ['ingress']);
});
