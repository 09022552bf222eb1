import t from 'tap';
import { WsTransport } from '../../src/wire/ws-transport.js';
import { FaultController } from '../../src/wire/faults.js';
import { PeerLink } from '../../src/wire/peer-link.js';
import { WireErrorCode } from '../../src/wire/errors.js';
import type { Connection } from '../../src/wire/interface.js';
import type { ConnectionOptions } from '../../src/wire/options.js';
import { seededRng } from '../../src/util/rng.js';
import { Note } from './fixtures/messages.js';
import { waitFor } from '../helpers/wait.js';

const transports: WsTransport[] = [];
t.teardown(() => Promise.all(transports.map((x) => x.close())));

/** Two ws nodes sharing one FaultController, as an in-process cluster would. */
async function setup(connection?: Partial<ConnectionOptions>) {
  const faults = new FaultController(seededRng(42));
  const a = faults.install(new WsTransport({ nodeId: 'a', ...(connection ? { connection } : {}) }));
  const b = faults.install(new WsTransport({ nodeId: 'b', ...(connection ? { connection } : {}) }));
  transports.push(a, b);
  const atB: number[] = [];
  const atA: number[] = [];
  b.onMessage(Note, (m) => atB.push(m.seq));
  a.onMessage(Note, (m) => atA.push(m.seq));
  const addr = await b.listen();
  const accepted = new Promise<Connection>((r) => b.onConnection(r));
  const ab = await a.connect(addr, { expectNodeId: 'b' });
  const ba = await accepted;
  return { faults, a, b, ab, ba, atA, atB, addr };
}

const payload = Buffer.alloc(8);
const sendMany = (c: Connection, n: number, from = 0) => {
  for (let i = from; i < from + n; i++) c.send(Note, { seq: i, payload });
};

t.test('drop: all, then some, switched at run time', async (t) => {
  const { faults, ab, atB } = await setup();
  faults.setAll({ drop: 1 });
  sendMany(ab, 100);
  faults.clear();
  sendMany(ab, 1, 1000); // a marker that must arrive
  await waitFor(() => atB.includes(1000), { what: 'marker' });
  t.same(atB, [1000], 'every frame sent under drop=1 was lost; the marker after clear() arrived');
  t.equal(faults.stats.dropped, 100);
  faults.setLink('a', 'b', { drop: 0.3 });
  sendMany(ab, 1000, 2000);
  faults.clear();
  sendMany(ab, 1, 9999);
  await waitFor(() => atB.includes(9999), { what: 'second marker' });
  const got = atB.filter((s) => s >= 2000 && s < 3000).length;
  t.ok(got > 550 && got < 850, `about 70% of 1000 arrived under drop=0.3 (${got})`);
});

t.test('duplicate and reorder', async (t) => {
  const { faults, ab, atB } = await setup();
  faults.setAll({ duplicate: 1 });
  sendMany(ab, 50);
  faults.clear();
  await waitFor(() => atB.length >= 100, { what: 'duplicates' });
  t.same(atB.slice(0, 100), Array.from({ length: 50 }, (_, i) => [i, i]).flat(), 'each frame delivered twice');
  atB.length = 0;
  faults.setAll({ reorder: 0.3 });
  sendMany(ab, 500, 100);
  faults.clear();
  await waitFor(() => atB.length >= 500, { what: 'all reordered frames' });
  t.same([...atB].sort((x, y) => x - y), Array.from({ length: 500 }, (_, i) => i + 100), 'nothing lost');
  t.notSame(atB, [...atB].sort((x, y) => x - y), 'but not in order');
  t.ok(faults.stats.reordered > 50, `${faults.stats.reordered} frames reordered`);
});

t.test('delay', async (t) => {
  const { faults, ab, atB } = await setup();
  faults.setLink('a', 'b', { delayMs: 150 });
  const sent = Date.now();
  sendMany(ab, 10);
  await waitFor(() => atB.length >= 10, { what: 'delayed frames' });
  const took = Date.now() - sent;
  t.ok(took >= 140, `frames arrived after ${took} ms, not before the 150 ms delay`);
  t.same(atB, Array.from({ length: 10 }, (_, i) => i), 'a fixed delay keeps order');
});

t.test('one-way partition: b hears nothing from a, a still hears b', async (t) => {
  // Long idle timeout so the half-dead connection stays up while we look at it.
  const { faults, ab, ba, atA, atB } = await setup({ idleTimeoutMs: 60_000 });
  faults.partition(['a'], ['b'], { oneWay: true });
  sendMany(ab, 5);
  sendMany(ba, 5, 100);
  await waitFor(() => atA.length >= 5, { what: 'b→a frames' });
  t.same(atA, [100, 101, 102, 103, 104], 'b→a flows');
  t.same(atB, [], 'a→b is cut');
  t.ok(faults.isBlocked('a', 'b') && !faults.isBlocked('b', 'a'));
});

t.test('partition closes the connection; redials fail until heal, then reconnect', async (t) => {
  const faults = new FaultController(seededRng(7));
  const a = faults.install(new WsTransport({ nodeId: 'pa' }));
  const b = faults.install(new WsTransport({ nodeId: 'pb' }));
  transports.push(a, b);
  const addr = await b.listen();
  const link = new PeerLink(a, addr, { expectNodeId: 'pb', connectTimeoutMs: 500, backoff: { maxMs: 300 } });
  t.teardown(() => link.close());
  const first = await link.waitConnected(5000);
  faults.partition(['pa'], ['pb']);
  const info = await first.closed;
  t.equal(info.code, 'idle-timeout', `partitioned connection times out (${info.reason})`);
  await waitFor(() => link.lastError && [WireErrorCode.TIMEOUT, WireErrorCode.HANDSHAKE_FAILED].includes((link.lastError as { code?: never }).code!), {
    what: 'a failed redial during the partition',
  });
  t.equal(link.connects, 1, 'no connection got through the partition');
  faults.heal();
  await waitFor(() => link.connects >= 2 && link.connection, { timeoutMs: 10_000, what: 'reconnect after heal' });
  t.pass('reconnected after heal');
  faults.isolate('pb');
  t.ok(faults.isBlocked('pa', 'pb') && faults.isBlocked('pb', 'x') && !faults.isBlocked('pa', 'x'), 'isolate cuts one node from all');
});
