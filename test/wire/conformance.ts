/**
 * The transport conformance suite. Every Transport implementation must pass
 * it unchanged; ws.test.ts and hyperswarm.test.ts run it with their harness.
 */
import type { Test } from 'tap';
import type { Connection, PeerTarget, Transport } from '../../src/wire/interface.js';
import type { ConnectionOptions } from '../../src/wire/options.js';
import { WireError, WireErrorCode } from '../../src/wire/errors.js';
import { leaderHintOf, ShoalError } from '../../src/util/errors.js';

/** A module's typed error, as any module defines one. */
class HintError extends ShoalError {
  readonly ns = 'test';
}
import { PeerLink } from '../../src/wire/peer-link.js';
import { Counter, Echo, Fail, Note } from './fixtures/messages.js';
import { startPeer, type PeerProcess } from './fixtures/peer-process.js';
import { waitFor, within } from '../helpers/wait.js';

export interface Harness {
  name: string;
  /** A fresh in-process transport (not yet listening). */
  make(nodeId: string, connection?: Partial<ConnectionOptions>): Promise<Transport>;
  /**
   * Arguments for fixtures/peer.ts: a peer process with this identity (restartable with the same args).
   * Omitted by a harness whose transport configuration the peer fixture cannot reproduce (ws over TLS):
   * the two peer-process checks are then skipped, with the reason shown.
   */
  peerArgs?(nodeId: string, slot: number): string[];
  /** What to dial to reach a peer process after it restarted (it may not keep its address). */
  restartTarget?(address: string): PeerTarget;
  /** Why there is no peer process (shown as the skip reason). */
  noPeerProcess?: string;
}

export function conformance(t: Test, h: Harness): void {
  const transports: Transport[] = [];
  const peers: PeerProcess[] = [];
  const make = async (id: string, c?: Partial<ConnectionOptions>) => {
    const tr = await h.make(id, c);
    transports.push(tr);
    return tr;
  };
  t.teardown(async () => {
    for (const p of peers) p.proc.kill('SIGKILL');
    await Promise.all(transports.map((tr) => tr.close()));
  });

  const pair = async (c?: Partial<ConnectionOptions>) => {
    const server = await make(`srv-${transports.length}`, c);
    const client = await make(`cli-${transports.length}`);
    server.onRequest(Echo, (b) => ({ payload: b.payload }));
    server.onRequest(Fail, (b) => {
      throw new Error(`refused: ${b.why}`);
    });
    const addr = await server.listen();
    const accepted = new Promise<Connection>((r) => server.onConnection(r));
    const conn = await client.connect(addr, { expectNodeId: server.nodeId });
    return { server, client, conn, accepted: await accepted, addr };
  };

  t.test(`${h.name}: connect, identity, request/response`, async (t) => {
    const { server, client, conn, accepted } = await pair();
    t.equal(conn.peer.nodeId, server.nodeId, 'dialler knows whom it reached');
    t.equal(accepted.peer.nodeId, client.nodeId, 'acceptor learns the dialler from the handshake');
    t.ok(conn.initiator && !accepted.initiator);
    const res = await conn.request(Echo, { payload: Buffer.from('ping') });
    t.equal(Buffer.from(res.payload).toString(), 'ping');
    const big = Buffer.alloc(512 * 1024, 9);
    t.same((await conn.request(Echo, { payload: big })).payload.length, big.length, '512 KiB request');
    await t.rejects(conn.request(Fail, { why: 'no' }), { code: WireErrorCode.REMOTE_ERROR, message: /refused: no/ }, 'handler error reaches the caller');
    await t.rejects(accepted.request(Echo, { payload: Buffer.alloc(1) }), { code: WireErrorCode.NO_HANDLER }, 'no handler on the dialler side');
  });

  t.test(`${h.name}: a typed error travels as data (code, retryable, status, leader hint), in a response and in a stream reset`, async (t) => {
    const server = await make(`srv-${transports.length}`);
    const client = await make(`cli-${transports.length}`);
    const notLeader = () => new HintError('NOT_LEADER', 'not the leader', { retryable: true, status: 503, leader: { nodeId: 'n9', addr: '127.0.0.9:4242' } });
    server.onRequest(Fail, () => {
      throw notLeader();
    });
    server.onStream(Counter, (s) => s.reset(notLeader()));
    server.onRequest(Echo, (b) => ({ payload: b.payload }));
    const conn = await client.connect(await server.listen(), { expectNodeId: server.nodeId });
    const err = await conn.request(Fail, { why: 'x' }).then(
      () => null,
      (e: unknown) => e,
    );
    t.ok(err instanceof WireError && err.code === 'REMOTE_ERROR', 'a REMOTE_ERROR');
    const w = err as WireError;
    t.equal(w.remoteCode, 'test.NOT_LEADER', 'the remote code, qualified by its module');
    t.same([w.retryable, w.status, leaderHintOf(w)], [true, 503, { nodeId: 'n9', addr: '127.0.0.9:4242' }], 'retryable, status and leader hint as the handler raised them');
    const s = conn.openStream(Counter, { n: 1 });
    const reset = await new Promise<Error | undefined>((r) => s.onData(() => {}, r));
    t.same(leaderHintOf(reset), { nodeId: 'n9', addr: '127.0.0.9:4242' }, 'a stream reset carries the hint too');
    t.equal((reset as WireError).remoteCode, 'test.NOT_LEADER');
    const plain = await conn.request(Echo, { payload: Buffer.from('still open') });
    t.equal(Buffer.from(plain.payload).toString(), 'still open', 'an error answer does not close the connection');
  });

  t.test(`${h.name}: request timeout`, async (t) => {
    const never = await make('never');
    never.onRequest(Fail, () => new Promise<{ never: number }>(() => {}));
    const addr = await never.listen();
    const c = await (await make('asker')).connect(addr);
    await t.rejects(c.request(Fail, { why: 'x' }, { timeoutMs: 200 }), { code: WireErrorCode.TIMEOUT });
    t.ok(c.isOpen, 'a timeout does not close the connection');
  });

  t.test(`${h.name}: 10,000 messages arrive in order`, async (t) => {
    const { server, conn } = await pair();
    const got: number[] = [];
    server.onMessage(Note, (b) => got.push(b.seq));
    const payload = Buffer.alloc(64, 1);
    for (let i = 0; i < 10_000; i++) {
      conn.send(Note, { seq: i, payload });
      if (i % 500 === 0 && conn.bufferedBytes() > 1 << 20) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => got.length >= 10_000, { timeoutMs: 30_000, what: '10,000 messages' });
    t.equal(got.length, 10_000);
    t.ok(got.every((s, i) => s === i), 'in order, none missing or duplicated');
  });

  t.test(`${h.name}: streams`, async (t) => {
    const { server, conn } = await pair();
    server.onStream(Counter, (s, open) => {
      for (let i = 0; i < open.n; i++) s.write({ n: i });
      s.end();
    });
    const s = conn.openStream(Counter, { n: 1000 });
    const seen: number[] = [];
    for await (const m of s) seen.push(m.n);
    t.equal(seen.length, 1000);
    t.ok(seen.every((n, i) => n === i), 'stream frames in order');
    const orphan = conn.openStream(Note, { seq: 1, payload: Buffer.alloc(0) });
    await t.rejects(
      (async () => {
        for await (const _ of orphan) void _;
      })(),
      { code: WireErrorCode.NO_HANDLER },
      'opening a stream nobody serves is reset',
    );
  });

  t.test(`${h.name}: clean close with a reason`, async (t) => {
    const { conn, accepted } = await pair();
    const pending = accepted.request(Echo, { payload: Buffer.alloc(1) }).catch((e: WireError) => e);
    conn.close('maintenance window');
    const info = await within(accepted.closed, 3000, 'peer sees the close');
    t.same(info, { code: 'normal', reason: 'maintenance window', byPeer: true });
    t.same(await conn.closed, { code: 'normal', reason: 'maintenance window', byPeer: false });
    t.equal(((await pending) as WireError).code, WireErrorCode.CLOSED, 'pending requests fail with CLOSED');
    t.throws(() => conn.send(Note, { seq: 1, payload: Buffer.alloc(0) }), { code: WireErrorCode.CLOSED });
  });

  t.test(`${h.name}: expected identity is enforced`, async (t) => {
    const server = await make('the-real-one');
    const addr = await server.listen();
    const client = await make('dialler');
    await t.rejects(client.connect(addr, { expectNodeId: 'somebody-else' }), { code: WireErrorCode.HANDSHAKE_FAILED });
  });

  t.test(`${h.name}: oversize frames`, async (t) => {
    const { conn, accepted } = await pair({ maxFrameBytes: 1024 * 1024 });
    // Sender-side: our own limit is checked before anything is sent; the connection survives.
    const client2 = await make('small-sender', { maxFrameBytes: 64 * 1024 });
    const c2 = await client2.connect((await pair()).addr);
    t.throws(() => c2.send(Note, { seq: 1, payload: Buffer.alloc(100 * 1024) }), { code: WireErrorCode.FRAME_TOO_LARGE });
    t.ok(c2.isOpen, 'a refused send does not close the connection');
    // Receiver-side: the server accepts at most 1 MiB; the client may send 2 MiB.
    conn.send(Note, { seq: 1, payload: Buffer.alloc(2 * 1024 * 1024, 3) });
    const info = await within(conn.closed, 5000, 'sender sees the connection closed');
    t.equal(info.code, 'frame-too-large', `close code (${info.reason})`);
    t.match(info.reason, /frame|size|large/i, 'the reason says why');
    const local = await within(accepted.closed, 5000, 'receiver closes too');
    t.equal(local.code, 'frame-too-large');
  });

  const peerSkip = h.peerArgs && h.restartTarget ? false : (h.noPeerProcess ?? 'this harness has no peer process');
  const peerArgs = (nodeId: string, slot: number) => h.peerArgs!(nodeId, slot);

  t.test(`${h.name}: peer killed with SIGKILL is noticed within 2 s`, { skip: peerSkip }, async (t) => {
    const p = await startPeer(peerArgs('victim', 0));
    peers.push(p);
    const client = await make('survivor');
    const conn = await client.connect(p.address, { expectNodeId: 'victim' });
    t.equal(Buffer.from((await conn.request(Echo, { payload: Buffer.from('x') })).payload).toString(), 'x');
    const killedAt = Date.now();
    p.proc.kill('SIGKILL');
    const info = await within(conn.closed, 5000, 'close after SIGKILL');
    const ms = Date.now() - killedAt;
    t.ok(ms < 2000, `close seen ${ms} ms after SIGKILL (${info.code}: ${info.reason})`);
    t.ok(info.byPeer, 'attributed to the peer');
  });

  t.test(`${h.name}: reconnect after the peer restarts`, { skip: peerSkip }, async (t) => {
    const args = peerArgs('phoenix', 1);
    const t0 = Date.now();
    const mark = (what: string) => t.comment(`${what} at +${Date.now() - t0} ms`);
    let p = await startPeer(args);
    mark('peer started');
    peers.push(p);
    const client = await make('waiter');
    const link = new PeerLink(client, h.restartTarget!(p.address), { expectNodeId: 'phoenix', connectTimeoutMs: 2000 });
    t.teardown(() => link.close());
    await link.waitConnected(10_000);
    mark('link up');
    t.equal(link.connects, 1);
    p.proc.kill('SIGKILL');
    await p.exited;
    await waitFor(() => link.connection === null, { timeoutMs: 5000, what: 'link notices the death' });
    mark('link down');
    p = await startPeer(args);
    peers.push(p);
    mark('peer restarted');
    await waitFor(() => link.connects >= 2 && link.connection, { timeoutMs: 20_000, what: 'link reconnects' });
    mark('link up again');
    const res = await link.request(Echo, { payload: Buffer.from('again') }, { timeoutMs: 5000 });
    t.equal(Buffer.from(res.payload).toString(), 'again', 'requests work on the new connection');
  });
}
