/**
 * Node identity on the wire (mutual TLS with node certificates our CA signs,
 * src/wire/pki and the ws transport) and the node daemon's access policy
 * (src/node/access.ts), in one process with real sockets:
 * - the identity a handler sees is the certificate's (CN node ID, OU role,
 *   O cluster), and a hello claiming another ID is refused;
 * - a certificate from another CA is refused before any frame, and counted;
 * - a peer with no certificate may only fetch the CA and join;
 * - a worker certificate may not send Raft frames or membership changes;
 *   each refusal is counted (dropped.unauthorized) and answered
 *   PERMISSION_DENIED where there is an answer;
 * - a connection cap refuses the connection beyond it, counted;
 * - a handler that throws drops its frame, is reported, and ends nothing.
 */
import t from 'tap';
import { createNodeKey, createRootCa, issueNodeCertificate, type KeyPair } from '../../src/wire/pki/x509.js';
import type { NodeRole } from '../../src/wire/pki/identity.js';
import { WsTransport, type TlsOptions } from '../../src/wire/ws-transport.js';
import type { Transport, PeerIdentity } from '../../src/wire/interface.js';
import { isWireError } from '../../src/wire/errors.js';
import { registry } from '../../src/wire/registry.js';
import { CLUSTER_MESSAGES } from '../../src/protocol/index.js';
import { RaftWire } from '../../src/raft/transport.js';
import { CaCertificate, MembershipChange } from '../../src/protocol/membership.js';
import { Heartbeat } from '../../src/protocol/dispatcher.js';
import { nodeAccessPolicy } from '../../src/node/access.js';
import { waitFor } from '../helpers/wait.js';
import type { Message } from '../../src/raft/interface.js';

registry.add(...CLUSTER_MESSAGES);

const CLUSTER = 'c-test';
const ca = await createRootCa(CLUSTER);
const otherCa = await createRootCa(CLUSTER); // same cluster name, another key: a forged cluster

async function nodeTls(of: KeyPair, nodeId: string, role: NodeRole): Promise<TlsOptions> {
  const k = await createNodeKey(nodeId);
  const cert = await issueNodeCertificate(of, k.csrPem, { nodeId, role, clusterId: CLUSTER });
  return { key: k.keyPem, cert, ca: ca.certPem, nodeIdentity: true };
}

const transports: Transport[] = [];
t.teardown(() => Promise.all(transports.map((x) => x.close())));
const errors: string[] = [];
const server = new WsTransport({
  nodeId: 'm1',
  tls: { ...(await nodeTls(ca, 'm1', 'manager')), allowAnonymous: true },
  authorize: nodeAccessPolicy(() => CLUSTER),
  maxConnections: 8,
  onHandlerError: (err, type) => errors.push(`${type}: ${(err as Error).message}`),
});
transports.push(server);
const raftFrom: PeerIdentity[] = [];
server.onMessage(RaftWire, (m, conn) => {
  if (m.from === 'boom') throw new Error('a raft handler bug');
  raftFrom.push(conn.peer);
});
let changes = 0;
server.onRequest(MembershipChange, () => {
  changes++;
  return { done: 'ok' as const };
});
server.onRequest(CaCertificate, () => ({ caCertificate: ca.certPem }));
server.onRequest(Heartbeat, (b, conn) => {
  if (b.nodeId === 'boom') throw new Error('a handler bug');
  return { heartbeatMs: conn.peer.role === 'worker' ? 1 : 2 };
});
const addr = await server.listen({ host: '127.0.0.1', port: 0 });

const client = (nodeId: string, tls: TlsOptions) => {
  const c = new WsTransport({ nodeId, tls });
  transports.push(c);
  return c;
};
const append = (from: string): Message => ({ type: 'heartbeat', from, to: 'm1', term: 99, commit: 0, readSeq: 0 }) as Message;

t.test('a manager certificate: the handler sees the certificate\'s identity, and Raft goes through', async (t) => {
  const m2 = client('m2', await nodeTls(ca, 'm2', 'manager'));
  const conn = await m2.connect(addr);
  t.same({ id: conn.peer.nodeId, auth: conn.peer.authenticated, role: conn.peer.role }, { id: 'm1', auth: true, role: 'manager' }, 'the dialler sees the listener\'s certificate too');
  conn.send(RaftWire, append('m2'));
  await waitFor(() => raftFrom.length === 1, { what: 'the raft frame handled' });
  t.same({ id: raftFrom[0]!.nodeId, auth: raftFrom[0]!.authenticated, role: raftFrom[0]!.role, cluster: raftFrom[0]!.clusterId }, { id: 'm2', auth: true, role: 'manager', cluster: CLUSTER });
  t.same(await conn.request(MembershipChange, { action: 'promote', nodeId: 'w9' }), { done: 'ok' });
  conn.close();
});

t.test('a worker certificate may not speak Raft or change membership: dropped, counted, refused', async (t) => {
  const before = server.metrics.dropped['unauthorized'] ?? 0;
  const w = client('w1', await nodeTls(ca, 'w1', 'worker'));
  const conn = await w.connect(addr);
  conn.send(RaftWire, append('w1'));
  const err = await conn.request(MembershipChange, { action: 'demote', nodeId: 'm1' }).catch((e: unknown) => e);
  t.ok(isWireError(err, 'REMOTE_ERROR'), 'the membership change is refused');
  t.equal((err as { remoteCode?: string }).remoteCode, 'PERMISSION_DENIED');
  t.match((err as Error).message, /membership\.change is for managers/);
  await waitFor(() => (server.metrics.dropped['unauthorized'] ?? 0) === before + 2, { what: 'both refusals counted' });
  t.equal(raftFrom.length, 1, 'no raft frame from the worker reached Raft');
  t.equal(changes, 1, 'no membership change from the worker');
  t.same(await conn.request(Heartbeat, { nodeId: 'w1', sessionId: 's' }), { heartbeatMs: 1 }, 'what any node may send goes through, as a worker');
  conn.close();
});

t.test('a hello claiming another node than the certificate is refused', async (t) => {
  // The attacker holds w2's key and certificate, and says it is m2.
  const liar = client('m2', await nodeTls(ca, 'w2', 'worker'));
  const before = server.metrics.handshakeFailures;
  const err = await liar.connect(addr).catch((e: unknown) => e);
  t.ok(isWireError(err), `refused: ${(err as Error).message}`);
  t.match((err as Error).message, /certificate is node w2's|claims to be node m2/);
  await waitFor(() => server.metrics.handshakeFailures === before + 1, { what: 'the failed handshake counted' });
});

t.test('a certificate from another CA is refused before any frame, and counted', async (t) => {
  const before = server.metrics.connectionsRefused;
  const forged = client('m3', { ...(await nodeTls(otherCa, 'm3', 'manager')), ca: ca.certPem });
  const err = await forged.connect(addr, { timeoutMs: 3_000 }).catch((e: unknown) => e);
  t.ok(isWireError(err), `refused: ${(err as Error).message}`);
  await waitFor(() => server.metrics.connectionsRefused === before + 1, { what: 'the refused connection counted' });
  t.equal(raftFrom.length, 1, 'nothing reached Raft');
});

t.test('no certificate: only the CA and Join; anything else is refused', async (t) => {
  const anon = client('anon', {}); // dials without a certificate, trusting nothing yet
  const conn = await anon.connect(addr);
  t.equal(conn.peer.authenticated, false, 'a dialler without a CA cannot authenticate the listener');
  t.equal((await conn.request(CaCertificate, {})).caCertificate, ca.certPem, 'the CA certificate is for anyone');
  const err = await conn.request(MembershipChange, { action: 'remove', nodeId: 'm1' }).catch((e: unknown) => e);
  t.equal((err as { remoteCode?: string }).remoteCode, 'PERMISSION_DENIED', 'a membership change is refused');
  t.match((err as Error).message, /needs a node certificate/);
  conn.send(RaftWire, append('anon'));
  const hb = await conn.request(Heartbeat, { nodeId: 'anon', sessionId: 's' }).catch((e: unknown) => e);
  t.equal((hb as { remoteCode?: string }).remoteCode, 'PERMISSION_DENIED', 'even a heartbeat needs a certificate');
  t.equal(raftFrom.length, 1, 'the anonymous raft frame was dropped');
  t.equal(changes, 1);
  conn.close();
});

t.test('a handler that throws: the frame is dropped, counted and reported; the connection and the node go on', async (t) => {
  const w = client('w3', await nodeTls(ca, 'w3', 'worker'));
  const conn = await w.connect(addr);
  const err = await conn.request(Heartbeat, { nodeId: 'boom', sessionId: 's' }).catch((e: unknown) => e);
  t.ok(isWireError(err, 'REMOTE_ERROR'), 'a throwing request handler answers with its error');
  t.same(await conn.request(Heartbeat, { nodeId: 'w3', sessionId: 's' }), { heartbeatMs: 1 }, 'and the connection still serves');
  conn.close();
  // A one-way frame's handler throwing: nothing to answer, so it is counted and reported.
  const m = client('m5', await nodeTls(ca, 'm5', 'manager'));
  const mc = await m.connect(addr);
  const threw = server.metrics.dropped['handler-threw'] ?? 0;
  mc.send(RaftWire, append('boom'));
  await waitFor(() => errors.length === 1, { what: 'the handler error reported' });
  t.match(errors[0], /raft\.msg: a raft handler bug/);
  t.equal(server.metrics.dropped['handler-threw'], threw + 1, 'and counted');
  mc.send(RaftWire, append('m5'));
  await waitFor(() => raftFrom.some((p) => p.nodeId === 'm5'), { what: 'the next frame handled' });
  mc.close();
});

t.test('connections beyond the cap are refused and counted', async (t) => {
  const before = server.metrics.connectionsRefused;
  const tls = await nodeTls(ca, 'w4', 'worker');
  const conns = [];
  for (let i = 0; i < 12; i++) conns.push(await client(`w4`, tls).connect(addr).catch((e: unknown) => e));
  await waitFor(() => server.metrics.connectionsRefused > before, { what: 'a refusal over the cap' });
  await waitFor(() => server.connections().length <= 8, { what: 'at most 8 connections stay' });
  t.ok(server.metrics.connectionsRefused - before >= 4, `${server.metrics.connectionsRefused - before} connections refused over the cap of 8`);
  for (const c of conns) if (c && typeof c === 'object' && 'close' in c) (c as { close(): void }).close();
});
