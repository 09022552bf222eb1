/**
 * `shoal up`'s layout choice, where it needs no nodes: the flags that
 * contradict each other fail in one line before anything is made, and the
 * layout line says which layout a cluster has and why. The layouts
 * themselves run in up.test.ts (loopback) and up-netns.test.ts (namespaces).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { layoutLine } from '../../src/cli/commands/up.js';
import { layoutFor, nodeNetnsNames, validPrefix } from '../../src/cli/local/netns.js';
import { oneLineError, shoalInProcess } from './helpers.js';

t.test('contradicting or malformed --ip-prefix: one line, nothing made', async (t) => {
  const dir = path.join(t.testdir(), 'c');
  let r = await shoalInProcess('up', '--dir', dir, '--no-netns', '--ip-prefix', '10.218.7');
  t.equal(oneLineError(r), null);
  t.match(r.err, /^shoal: --ip-prefix 10\.218\.7 is for nodes in network namespaces, but --no-netns asks for loopback: give a 127\.a\.b prefix or none\n$/);
  r = await shoalInProcess('up', '--dir', dir, '--ip-prefix', '10.300.1');
  t.equal(oneLineError(r), null);
  t.match(r.err, /--ip-prefix must be the first three octets of a loopback address \(127\.a\.b\) or of a 10\.a\.b\.0\/24/);
  r = await shoalInProcess('up', '--dir', dir, '--ip-prefix', '192.168.1');
  t.equal(oneLineError(r), null);
  t.notOk(existsSync(dir), 'nothing was made');
});

t.test('prefixes and the names made from them', async (t) => {
  t.same(validPrefix('10.218.4'), [218, 4]);
  t.equal(validPrefix('10.256.4'), null);
  t.equal(validPrefix('10.1.2.3'), null);
  t.equal(validPrefix('127.0.0'), null);
  const l = layoutFor('10.218.255');
  t.same(l, { prefix: '10.218.255', bridge: 'shup-218-255' });
  const names = nodeNetnsNames(l, { name: 'manager1' }, 9);
  t.same(names, { netns: 'shoal-up-218-255-manager1', veth: 'su218-255-9' });
  t.ok(l.bridge.length <= 15 && names.veth.length <= 15, 'interface names fit IFNAMSIZ');
});

t.test('the layout line', async (t) => {
  const nodes = [{ name: 'manager1', role: 'manager' as const, addr: '127.0.0.11:4242', pid: null }];
  t.equal(
    layoutLine({ nodes }, 'it needs root: it creates network namespaces, veth pairs and a bridge'),
    "Layout: loopback, every node on 127.0.0.x in this machine's network (it needs root: it creates network namespaces, veth pairs and a bridge): overlay networks and published ports need root with iproute2, nftables and nsenter (network namespaces), so tasks that join a network are rejected here.\n",
  );
  t.equal(
    layoutLine({ nodes, netns: layoutFor('10.218.4') }),
    'Layout: network namespaces, each node a machine of its own on 10.218.4.0/24 (bridge shup-218-4, this host 10.218.4.254): overlay networks work and published ports answer at http://<node address>:<port> from this host.\n',
  );
});
