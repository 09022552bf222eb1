import t from 'tap';
import { WebSocket } from 'ws';
import { Packr } from '../../src/util/msgpack.js';
import { WsTransport, WS_PATH } from '../../src/wire/ws-transport.js';
import { rawFrame } from '../../src/wire/codec.js';
import { PROTOCOL_VERSION } from '../../src/wire/messages.js';
import { seededRng } from '../../src/util/rng.js';
import { Echo } from './fixtures/messages.js';
import { waitFor } from '../helpers/wait.js';

t.test('garbage frames on a live connection are dropped and counted, never fatal', async (t) => {
  const server = new WsTransport({ nodeId: 'target' });
  server.onRequest(Echo, (b) => ({ payload: b.payload }));
  const addr = await server.listen();
  const client = new WsTransport({ nodeId: 'honest' });
  t.teardown(async () => {
    await client.close();
    await server.close();
  });

  // A raw socket that completes the handshake, then sends junk.
  const raw = new WebSocket(`ws://${addr}${WS_PATH}`);
  await new Promise((r) => raw.once('open', r));
  const p = new Packr({ useRecords: true });
  raw.send(rawFrame(0, 'wire.hello', 1, 0, p.pack({ nodeId: 'mallory', protocol: PROTOCOL_VERSION })));
  const rng = seededRng(99);
  for (let i = 0; i < 2000; i++) {
    const junk = rng.chance(0.5)
      ? Buffer.from(Array.from({ length: rng.int(50) + 1 }, () => rng.int(256)))
      : rawFrame(rng.int(8), rng.pick(['test.echo', 'raft.nope', 'wire.hello']), rng.int(3), rng.int(5), p.pack({ payload: rng.chance(0.5) ? 'x' : Buffer.alloc(3) }));
    raw.send(junk);
  }
  // A request replayed with a bad body, and a response nobody asked for.
  raw.send(rawFrame(2, 'test.echo', 1, 77, p.pack({ payload: Buffer.alloc(1) })));
  await waitFor(() => Object.values(server.metrics.dropped).reduce((a, b) => a + b, 0) >= 1500, { what: 'drops counted' });
  t.comment(`dropped: ${JSON.stringify(server.metrics.dropped)}`);
  t.ok((server.metrics.dropped.MALFORMED_FRAME ?? 0) > 0, 'malformed frames counted');
  t.ok((server.metrics.dropped['unmatched-response'] ?? 0) > 0, 'unsolicited response counted');

  const conn = await client.connect(addr, { expectNodeId: 'target' });
  const res = await conn.request(Echo, { payload: Buffer.from('still alive') });
  t.equal(Buffer.from(res.payload).toString(), 'still alive', 'the node still serves honest peers');
  raw.terminate();
});

t.test('a peer that speaks another wire protocol is refused in the handshake, with the reason', async (t) => {
  const server = new WsTransport({ nodeId: 'target' });
  const addr = await server.listen();
  t.teardown(() => server.close());
  const raw = new WebSocket(`ws://${addr}${WS_PATH}`);
  await new Promise((r) => raw.once('open', r));
  const closed = new Promise<string>((r) => raw.once('close', (_code, reason) => r(reason.toString())));
  raw.send(rawFrame(0, 'wire.hello', 1, 0, new Packr({ useRecords: true }).pack({ nodeId: 'old-node', protocol: PROTOCOL_VERSION - 1 })));
  t.match(await closed, new RegExp(`speaks wire protocol ${PROTOCOL_VERSION - 1}; this node speaks ${PROTOCOL_VERSION}`));
  t.equal(server.metrics.handshakeFailures, 1, 'counted as a failed handshake');
});
