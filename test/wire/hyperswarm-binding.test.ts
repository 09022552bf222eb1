/**
 * The hyperswarm transport's Noise sessions bound to node certificates
 * (wire/pki/noise-binding.ts), with real DHT nodes on loopback (no public
 * bootstrap): peers of one CA connect and know each other by certificate;
 * another CA's certificate, a certificate whose key the peer does not hold,
 * a binding replayed from another session, and a peer with no certificate
 * are refused before any frame, and counted.
 */
import t from 'tap';
import { HyperswarmTransport } from '../../src/wire/hyperswarm-transport.js';
import { waitFor } from '../helpers/wait.js';
import { makeBinding, checkBinding, type BindingMaterial } from '../../src/wire/pki/noise-binding.js';
import { createNodeKey, createRootCa, issueNodeCertificate } from '../../src/wire/pki/x509.js';

async function material(ca: { certPem: string; keyPem: string }, nodeId: string, role: 'manager' | 'worker', clusterId = 'c1'): Promise<BindingMaterial> {
  const k = await createNodeKey(nodeId);
  return { key: k.keyPem, cert: await issueNodeCertificate(ca, k.csrPem, { nodeId, role, clusterId }), ca: ca.certPem };
}

t.test('Noise sessions carry certificate identities; strangers are refused', async (t) => {
  const ca = await createRootCa('c1');
  const other = await createRootCa('c1');
  const made: HyperswarmTransport[] = [];
  t.teardown(() => Promise.all(made.map((x) => x.close())));
  const transport = (nodeId: string, certificate?: BindingMaterial) => {
    const x = new HyperswarmTransport({ nodeId, bootstrap: [], ...(certificate ? { certificate } : {}) });
    made.push(x);
    return x;
  };
  const server = transport('m1', await material(ca, 'm1', 'manager'));
  const addr = await server.listen();
  const seen: { nodeId: string; role?: string; clusterId?: string; authenticated: boolean }[] = [];
  server.onConnection((c) => seen.push(c.peer));

  const w1 = transport('w1', await material(ca, 'w1', 'worker'));
  const conn = await w1.connect(addr, { timeoutMs: 10_000 });
  t.same({ nodeId: conn.peer.nodeId, role: conn.peer.role, clusterId: conn.peer.clusterId, authenticated: conn.peer.authenticated }, { nodeId: 'm1', role: 'manager', clusterId: 'c1', authenticated: true }, 'the client knows the server by its certificate');
  await waitFor(() => seen.some((p) => p.nodeId === 'w1'), { timeoutMs: 5_000, what: 'the server to see w1' });
  t.match(seen.find((p) => p.nodeId === 'w1'), { nodeId: 'w1', role: 'worker', clusterId: 'c1', authenticated: true }, 'and the server knows the client by its');
  conn.close();

  const failuresBefore = server.metrics.handshakeFailures;
  const foreign = transport('intruder', await material(other, 'intruder', 'manager'));
  await t.rejects(foreign.connect(addr, { timeoutMs: 10_000 }), 'a certificate of another CA: refused');

  // A stolen certificate without its key: the binding is signed with another key.
  const stolen = await material(ca, 'm1', 'manager');
  const thief = transport('thief', { ...stolen, key: (await createNodeKey('thief')).keyPem });
  await t.rejects(thief.connect(addr, { timeoutMs: 10_000 }), "another node's certificate without its key: refused");

  const anonymous = transport('anon');
  await t.rejects(anonymous.connect(addr, { timeoutMs: 3_000 }), 'no certificate at all: refused');
  t.ok(server.metrics.handshakeFailures >= failuresBefore + 2, `the server counted the refusals (${server.metrics.handshakeFailures - failuresBefore})`);
});

t.test('a binding is tied to one pair of Noise keys', async (t) => {
  const ca = await createRootCa('c1');
  const m = await material(ca, 'w1', 'worker');
  const a = Buffer.alloc(32, 1);
  const b = Buffer.alloc(32, 2);
  const c = Buffer.alloc(32, 3);
  const binding = makeBinding(m, a, b);
  t.match(checkBinding(binding, ca.certPem, a, b), { nodeId: 'w1', role: 'worker', clusterId: 'c1' }, 'valid for the session it was made for');
  t.match(checkBinding(binding, ca.certPem, a, c), /not signed by the certificate's key for this Noise session/, 'replayed to another peer: refused');
  t.match(checkBinding(binding, ca.certPem, c, b), /not signed by the certificate's key for this Noise session/, 'replayed by another sender: refused');
  t.match(checkBinding(Buffer.from('hello'), ca.certPem, a, b), /not a certificate binding/);
  t.match(checkBinding(binding, ca.certPem, a, b, Date.now() + 48 * 3600_000), /not valid now/, 'an expired certificate: refused');
});
