import t from 'tap';
import { randomBytes } from 'node:crypto';
import { recordEgress, isLoopback } from './fixtures/egress-recorder.js';
// Install the recorder before hyperdht creates any socket.
const egress = recordEgress();
const { default: createTestnet } = await import('hyperdht/testnet.js');
const { HyperswarmTransport } = await import('../../src/wire/hyperswarm-transport.js');
const { WireErrorCode } = await import('../../src/wire/errors.js');
const { Echo } = await import('./fixtures/messages.js');

const testnet = await createTestnet(3, { host: '127.0.0.1' });
const transports: InstanceType<typeof HyperswarmTransport>[] = [];
t.teardown(async () => {
  await Promise.all(transports.map((x) => x.close()));
  await testnet.destroy();
});
const make = (nodeId: string) => {
  const tr = new HyperswarmTransport({ nodeId, bootstrap: testnet.bootstrap });
  transports.push(tr);
  return tr;
};

t.test('an explicit bootstrap list is required', async (t) => {
  t.throws(() => new HyperswarmTransport({ nodeId: 'x' } as never), { code: WireErrorCode.REGISTRY, message: /explicit bootstrap/ });
});

t.test('connect by topic, by key alone (DHT lookup), and by key plus address', async (t) => {
  const topic = randomBytes(32);
  const server = make('server');
  server.onRequest(Echo, (b) => ({ payload: b.payload }));
  const address = await server.listen({ topic });
  t.match(address, /^[0-9a-f]{64}@127\.0\.0\.1:\d+$/, 'address is publicKey@host:port');

  const byTopic = await make('topic-client').connect({ topic }, { expectNodeId: 'server', timeoutMs: 15_000 });
  t.equal(byTopic.peer.nodeId, 'server');
  t.ok(byTopic.peer.authenticated, 'Noise authenticated the peer');
  t.same(Buffer.from(byTopic.peer.publicKey!), server.keyPair.publicKey, 'peer key is the server key');
  t.equal(Buffer.from((await byTopic.request(Echo, { payload: Buffer.from('t') })).payload).toString(), 't');

  const byKey = await make('key-client').connect(server.publicKeyHex, { timeoutMs: 15_000 });
  t.equal(byKey.peer.nodeId, 'server', 'key-only dial finds the server through the DHT');

  const [key, hint] = address.split('@');
  const [host, port] = hint!.split(':');
  const byHint = await make('hint-client').connect({ publicKey: Buffer.from(key!, 'hex'), host: host!, port: Number(port) });
  t.equal(byHint.peer.nodeId, 'server');
  await t.rejects(make('bad').connect('zz'), { code: WireErrorCode.CONNECT_FAILED, message: /public key/ });
});

t.test('nothing left loopback: no public DHT node was contacted', async (t) => {
  t.ok(egress.hosts.size > 0, `recorded ${egress.hosts.size} destination hosts`);
  const outside = [...egress.hosts].filter((h) => !isLoopback(h));
  t.same(outside, [], 'every UDP/UDX destination is in 127.0.0.0/8');
  t.same([...egress.lookups], [], 'no DNS lookups (the public bootstrap nodes are hostnames)');
});
