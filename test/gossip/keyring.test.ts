import t from 'tap';
import { Keyring, KeyringError, SEAL_OVERHEAD } from '../../src/gossip/keyring.js';
import { GossipDriver } from '../../src/gossip/driver.js';
import { WsTransport } from '../../src/wire/ws-transport.js';
import { waitFor } from '../helpers/wait.js';

t.test('seal/open, tampering, wrong keys', async (t) => {
  const k1 = Keyring.generateKey();
  const k2 = Keyring.generateKey();
  const a = new Keyring([k1]);
  const msg = Buffer.from('alive n1 inc 3');
  const sealed = a.seal(msg);
  t.equal(sealed.length, msg.length + SEAL_OVERHEAD);
  t.same(a.open(sealed), msg);
  t.notSame(a.seal(msg), sealed, 'a fresh nonce per packet');
  t.equal(new Keyring([k2]).open(sealed), null, 'a different key cannot open it');
  for (const i of [0, 1, 5, sealed.length - 1]) {
    const bad = Buffer.from(sealed);
    bad[i]! ^= 1;
    t.equal(a.open(bad), null, `a flipped bit at ${i} is detected`);
  }
  t.equal(a.open(Buffer.alloc(3)), null, 'short garbage');
  t.throws(() => new Keyring(['c2hvcnQ=']), KeyringError, 'keys are 32 bytes');
  t.throws(() => new Keyring([]), KeyringError);
});

t.test('rotation steps: install, use, remove', async (t) => {
  const [k1, k2] = [Keyring.generateKey(), Keyring.generateKey()];
  const a = new Keyring([k1]);
  const b = new Keyring([k1]);
  a.install(k2);
  t.same(b.open(a.seal(Buffer.from('x'))), Buffer.from('x'), 'installing does not change what we send');
  a.use(k2);
  t.equal(b.open(a.seal(Buffer.from('x'))), null, 'a node that has not installed k2 cannot read k2 traffic');
  b.install(k2);
  t.same(b.open(a.seal(Buffer.from('y'))), Buffer.from('y'), 'once installed, it can');
  t.same(a.open(b.seal(Buffer.from('z'))), Buffer.from('z'), 'and a still reads k1 traffic');
  t.throws(() => a.remove(k2), KeyringError, 'the primary cannot be removed');
  a.remove(k1);
  t.same(a.keys(), [Buffer.from(k2, 'base64').toString('base64')]);
  t.throws(() => a.use(k1), KeyringError, 'a removed key cannot be used');
});

t.test('three live drivers rotate the cluster key without losing anyone', async (t) => {
  const k1 = Keyring.generateKey();
  const k2 = Keyring.generateKey();
  const drivers: GossipDriver[] = [];
  const transports: WsTransport[] = [];
  const dead: string[] = [];
  t.teardown(async () => {
    for (const d of drivers) await d.stop();
    for (const x of transports) await x.close();
  });
  for (let i = 0; i < 3; i++) {
    const host = `127.0.0.${40 + i}`;
    const tr = new WsTransport({ nodeId: `r${i}` });
    const addr = await tr.listen({ host, port: 0 });
    transports.push(tr);
    const d = await GossipDriver.start({
      self: { id: `r${i}`, addr, clusterAddr: addr, role: 'manager', meta: { resources: { nanoCpus: 1e9, memoryBytes: 1e9 }, labels: {} } },
      keyring: new Keyring([k1]),
      transport: tr,
      profile: 'local',
    });
    d.onEvent((e) => e.type === 'dead' && dead.push(`${d.core.id} saw ${e.member.id} dead`));
    if (i > 0) d.join([drivers[0]!.members().find((m) => m.id === 'r0')!.addr]);
    drivers.push(d);
  }
  const allAlive = () => drivers.every((d) => d.members().filter((m) => m.state === 'alive').length === 3);
  await waitFor(allAlive, { what: 'three alive members' });
  const sentBefore = drivers.map((d) => d.metrics.datagramsIn);
  // The documented procedure, one step at a time across the cluster, each
  // step given time to take effect before the next: removing k1 while
  // datagrams sealed with it are still in flight would drop them.
  const traffic = async () => {
    const at = drivers.map((d) => d.metrics.datagramsIn);
    await waitFor(() => drivers.every((d, i) => d.metrics.datagramsIn > at[i]! + 5), { what: 'traffic after a rotation step' });
  };
  for (const d of drivers) d.keyring.install(k2);
  await traffic();
  for (const d of drivers) d.keyring.use(k2);
  await traffic();
  for (const d of drivers) d.keyring.remove(k1);
  // Traffic keeps flowing under the new key, and nobody is suspected.
  await waitFor(() => drivers.every((d, i) => d.metrics.datagramsIn > sentBefore[i]! + 20), { what: 'traffic under k2' });
  t.ok(allAlive(), 'still three alive members after rotation');
  t.same(dead, [], 'no member was declared dead');
  t.equal(drivers.reduce((s, d) => s + d.metrics.droppedUnauthenticated, 0), 0, 'no datagram failed authentication during a proper rotation');
  t.ok(drivers.every((d) => d.metrics.largestDatagram <= 1400), 'every datagram within the 1,400-byte MTU');
});
