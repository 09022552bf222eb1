/**
 * The embedded resolver without root: networks whose gateways are loopback
 * addresses (127.88.x.1 — every 127/8 address is local on Linux), queried
 * over real UDP and TCP sockets and through answer(). Covers the names a task
 * sees, dnsrr rotation, NXDOMAIN under the cluster domain, NODATA, forwarding
 * to a fake upstream (and a dead one: SERVFAIL within the timeout, never a
 * hang), internal networks not forwarding, malformed packets dropped and
 * counted, and rebinding as networks come and go.
 */
import t from 'tap';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { NodePlan } from '../../src/overlay-net/interface.js';
import { EmbeddedResolver } from '../../src/overlay-net/dns/server.js';
import { parseResolvConf } from '../../src/overlay-net/dns/upstream.js';

const plan: NodePlan = {
  nodeId: 'n1',
  underlayAddr: '192.0.2.1',
  networks: [
    { id: 'A', name: 'front', vni: 1, subnet: '127.88.0.0/16', gateway: '127.88.0.1', nodeAddr: '127.88.0.2', internal: false, ingress: false },
    { id: 'B', name: 'back', vni: 2, subnet: '127.89.0.0/16', gateway: '127.89.0.1', nodeAddr: '127.89.0.2', internal: true, ingress: false },
  ],
  tasks: [{ taskId: 't1', netns: 'x', serviceName: 'web', attachments: [{ networkId: 'A', addr: '127.88.0.5', mac: '02:42:7f:58:00:05', aliases: ['webby'] }] }],
  remotes: [],
  services: [
    {
      id: 's1', name: 'web', endpointMode: 'vip', vips: [{ networkId: 'A', addr: '127.88.0.100' }, { networkId: 'B', addr: '127.89.0.100' }], ports: [], preferLocal: false,
      aliases: [{ networkId: 'A', names: ['webby'] }],
      backends: [
        { taskId: 't1', networkId: 'A', addr: '127.88.0.5', local: true },
        { taskId: 't2', networkId: 'A', addr: '127.88.0.6', local: false },
        { taskId: 't2', networkId: 'B', addr: '127.89.0.6', local: false },
      ],
    },
    {
      id: 's2', name: 'db', endpointMode: 'dnsrr', vips: [], ports: [], preferLocal: false, aliases: [{ networkId: 'A', names: ['database'] }],
      backends: ['7', '8', '9'].map((i) => ({ taskId: `d${i}`, networkId: 'A', addr: `127.88.0.${i}`, local: false })),
    },
  ],
};

const q = (name: string, type: dnsPacket.RecordType = 'A', id = 4242) => dnsPacket.encode({ id, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
const addrs = (b: Buffer | null) => (b ? (dnsPacket.decode(b).answers ?? []).filter((a) => a.type === 'A').map((a) => (a as { data: string }).data) : null);
const rcode = (b: Buffer | null) => (b ? (dnsPacket.decode(b) as { rcode?: string }).rcode : null);

async function fakeUpstream(answer: string): Promise<{ port: number; seen: string[]; close: () => void }> {
  const s = dgram.createSocket('udp4');
  const seen: string[] = [];
  s.on('message', (m, r) => {
    const p = dnsPacket.decode(m);
    seen.push(p.questions![0].name);
    s.send(dnsPacket.encode({ id: p.id, type: 'response', flags: dnsPacket.RECURSION_AVAILABLE, questions: p.questions, answers: [{ type: 'A', name: p.questions![0].name, ttl: 30, data: answer }] }), r.port, r.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return { port: s.address().port, seen, close: () => s.close() };
}

t.test('names a task sees', async (t) => {
  const up = await fakeUpstream('198.51.100.7');
  t.teardown(up.close);
  const r = new EmbeddedResolver({ upstreams: [`127.0.0.1:${up.port}`], domain: 'shoal', forwardTimeoutMs: 300 });
  t.teardown(() => r.stop());
  await r.update(plan);
  const ask = (name: string, from = '127.88.0.5', type: dnsPacket.RecordType = 'A') => r.answer(q(name, type), from, 'A', 'udp');

  t.same(addrs(await ask('web')), ['127.88.0.100'], 'service → its VIP on the querying network');
  t.same(addrs(await ask('WEB.shoal.')), ['127.88.0.100'], 'case-insensitive, cluster domain and trailing dot accepted');
  t.same(addrs(await ask('web', '127.89.0.9')), ['127.89.0.100'], 'from the other network: that network\'s VIP');
  t.same(addrs(await ask('tasks.web'))?.sort(), ['127.88.0.5', '127.88.0.6'], 'tasks.<service> → every backend on the network');
  t.same(addrs(await ask('web.front')), ['127.88.0.100'], '<service>.<network>');
  t.same(addrs(await ask('tasks.web.front'))?.sort(), ['127.88.0.5', '127.88.0.6'], 'tasks.<service>.<network>');
  t.same(addrs(await ask('webby')), ['127.88.0.100'], "a service alias → the service's VIP on that network");
  t.same(addrs(await ask('tasks.webby'))?.sort(), ['127.88.0.5', '127.88.0.6'], 'tasks.<alias> → every backend, this node\'s and others\'');
  t.same(addrs(await ask('database'))?.sort(), ['127.88.0.7', '127.88.0.8', '127.88.0.9'], 'a dnsrr service alias → every backend (all on other nodes)');
  const firsts = new Set<string>();
  for (let i = 0; i < 3; i++) {
    const a = addrs(await ask('db'))!;
    t.same([...a].sort(), ['127.88.0.7', '127.88.0.8', '127.88.0.9'], 'dnsrr: every backend');
    firsts.add(a[0]);
  }
  t.equal(firsts.size, 3, 'dnsrr: the order rotates between answers');
  const aaaa = await ask('web', '127.88.0.5', 'AAAA');
  t.equal(rcode(aaaa), 'NOERROR', 'a known name asked for AAAA: NOERROR…');
  t.same(addrs(aaaa), [], '…with no answer (NODATA), so the client does not search elsewhere');
  t.equal(rcode(await ask('nosuch.shoal')), 'NXDOMAIN', 'an unknown name under the cluster domain: NXDOMAIN');
  t.equal(up.seen.length, 0, 'nothing so far went upstream');
  t.same(addrs(await ask('example.org')), ['198.51.100.7'], 'other names are forwarded to the upstream');
  t.same(up.seen, ['example.org']);
  t.equal(rcode(await ask('example.org', '127.89.0.9')), 'REFUSED', 'an internal network does not forward');
  t.equal(up.seen.length, 1);
  const fwd = await r.answer(q('example.net', 'A', 777), '127.88.0.5', 'A', 'udp');
  t.equal(dnsPacket.decode(fwd!).id, 777, "the forwarded answer carries the client's ID");
});

t.test('a dead upstream: SERVFAIL within the timeout', async (t) => {
  const dead = dgram.createSocket('udp4'); // bound, never answers
  await new Promise<void>((r) => dead.bind(0, '127.0.0.1', r));
  t.teardown(() => dead.close());
  const r = new EmbeddedResolver({ upstreams: [`127.0.0.1:${dead.address().port}`, `127.0.0.1:${dead.address().port}`], forwardTimeoutMs: 150 });
  t.teardown(() => r.stop());
  await r.update(plan);
  const t0 = Date.now();
  t.equal(rcode(await r.answer(q('example.org'), '127.88.0.5', 'A', 'udp')), 'SERVFAIL');
  const ms = Date.now() - t0;
  t.ok(ms >= 290 && ms < 1500, `two upstreams × 150 ms, took ${ms} ms`);
  t.equal(r.metrics.forwardFailures, 1);
});

t.test('malformed packets are dropped and counted', async (t) => {
  const r = new EmbeddedResolver({ upstreams: [] });
  t.teardown(() => r.stop());
  await r.update(plan);
  const junk = [Buffer.alloc(0), Buffer.from('hello'), Buffer.alloc(12, 0xff), q('web').subarray(0, 20), dnsPacket.encode({ id: 1, type: 'response', questions: [{ type: 'A', name: 'web', class: 'IN' }] })];
  for (const j of junk) t.equal(await r.answer(j, '127.88.0.5', 'A', 'udp'), null, `dropped: ${j.toString('hex').slice(0, 24) || '(empty)'}`);
  t.equal(r.metrics.malformed, junk.length, 'each counted');
  t.same(addrs(await r.answer(q('web'), '127.88.0.5', 'A', 'udp')), ['127.88.0.100'], 'and the resolver still answers');
});

t.test('over real sockets: UDP and TCP on each gateway, rebinding as networks go', async (t) => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const errors: Error[] = [];
  const r = new EmbeddedResolver({ port, upstreams: [], onError: (e) => errors.push(e) });
  t.teardown(() => r.stop());
  await r.update(plan);
  t.same(r.listening.sort(), ['127.88.0.1', '127.89.0.1'], 'one listener per gateway');
  const client = dgram.createSocket('udp4');
  await new Promise<void>((res) => client.bind(0, '127.88.0.5', res));
  t.teardown(() => client.close());
  const viaUdp = (gw: string, name: string) =>
    new Promise<Buffer>((res, rej) => {
      const timer = setTimeout(() => rej(new Error('no UDP answer')), 2000);
      client.once('message', (m) => {
        clearTimeout(timer);
        res(m);
      });
      client.send(q(name), port, gw);
    });
  t.same(addrs(await viaUdp('127.88.0.1', 'tasks.web'))?.sort(), ['127.88.0.5', '127.88.0.6'], 'UDP answer, scoped by the source address');
  client.send(Buffer.from('garbage'), port, '127.88.0.1');
  t.same(addrs(await viaUdp('127.88.0.1', 'web')), ['127.88.0.100'], 'garbage in between changes nothing');
  const viaTcp = (gw: string, name: string) =>
    new Promise<Buffer>((res, rej) => {
      const c = net.connect({ host: gw, port, localAddress: '127.88.0.5' });
      let buf = Buffer.alloc(0);
      c.setTimeout(2000, () => c.destroy(new Error('no TCP answer')));
      c.on('error', rej);
      c.on('connect', () => {
        const m = q(name);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        c.write(Buffer.concat([len, m]));
      });
      c.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          c.end();
          res(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        }
      });
    });
  t.same(addrs(await viaTcp('127.88.0.1', 'web')), ['127.88.0.100'], 'TCP answer');
  await r.update({ ...plan, networks: plan.networks.filter((n) => n.id === 'A') });
  t.same(r.listening, ['127.88.0.1'], 'the gone network\'s gateway is released');
  await t.rejects(viaTcp('127.89.0.1', 'web'), 'nothing listens there any more');
  t.same(errors, [], 'no errors reported');
});

t.test('resolv.conf parsing', async (t) => {
  t.same(parseResolvConf('# x\nnameserver 10.0.0.2\nnameserver ::1\nsearch a\n nameserver 10.0.0.3 \n'), [
    { host: '10.0.0.2', port: 53 },
    { host: '10.0.0.3', port: 53 },
  ]);
});

t.test('an answer for a gateway released meanwhile is dropped, not thrown', async (t) => {
  // A slow upstream: the answer arrives after the query's network left the plan.
  const slow = dgram.createSocket('udp4');
  slow.on('message', (m, r) => {
    const p = dnsPacket.decode(m);
    setTimeout(() => slow.send(dnsPacket.encode({ id: p.id, type: 'response', questions: p.questions, answers: [] }), r.port, r.address), 150);
  });
  await new Promise<void>((r) => slow.bind(0, '127.0.0.1', r));
  t.teardown(() => slow.close());
  const port = 20000 + Math.floor(Math.random() * 20000);
  const r = new EmbeddedResolver({ port, upstreams: [`127.0.0.1:${slow.address().port}`], forwardTimeoutMs: 1000 });
  t.teardown(() => r.stop());
  await r.update(plan);
  const client = dgram.createSocket('udp4');
  await new Promise<void>((res) => client.bind(0, '127.88.0.5', res));
  t.teardown(() => client.close());
  client.send(q('late.example'), port, '127.88.0.1');
  await new Promise((res) => setTimeout(res, 50));
  await r.update({ ...plan, networks: [] });
  t.same(r.listening, [], 'released');
  const rejections: unknown[] = [];
  const onRejection = (e: unknown) => rejections.push(e);
  process.on('unhandledRejection', onRejection);
  t.teardown(() => process.off('unhandledRejection', onRejection));
  await new Promise((res) => setTimeout(res, 400));
  t.equal(r.metrics.forwarded, 1, 'the query was forwarded');
  t.same(rejections, [], 'its late answer went nowhere, quietly');
});
