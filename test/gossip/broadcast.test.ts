/**
 * Dissemination: the transmit-limited queue (retransmit limits, least
 * transmitted first, invalidation, size budget) and the user broadcast
 * channel (delivery once per (origin, epoch, seq)).
 */
import t from 'tap';
import { BroadcastQueue } from '../../src/gossip/queue.js';
import { Dedup } from '../../src/gossip/dedup.js';
import { retransmitLimit, LAN } from '../../src/gossip/options.js';
import type { GossipMessage, UserMsg } from '../../src/gossip/interface.js';
import { messageSize } from '../../src/gossip/size.js';
import { MiniNet, addrOf } from './sim/mini.js';

const sus = (id: string): GossipMessage => ({ type: 'suspect', id, inc: 1, from: 'x' });

t.test('retransmit limit: mult × ceil(log10(n + 1))', async (t) => {
  t.equal(retransmitLimit(4, 1), 4);
  t.equal(retransmitLimit(4, 9), 4);
  t.equal(retransmitLimit(4, 10), 8);
  t.equal(retransmitLimit(4, 100), 12);
  t.equal(retransmitLimit(4, 1000), 16);
});

t.test('queue: each message goes out exactly `limit` times, least-transmitted first, newest first', async (t) => {
  const q = new BroadcastQueue();
  q.enqueue('a', sus('a'), 30);
  q.enqueue('b', sus('b'), 30);
  const out: GossipMessage[] = [];
  q.take(30, 3, 10, out); // room for one: the newest
  t.same(out.map((m) => (m as { id: string }).id), ['b']);
  out.length = 0;
  q.take(30, 3, 10, out); // a has 0 transmissions, b has 1
  t.same(out.map((m) => (m as { id: string }).id), ['a']);
  const sent = new Map<string, number>([['a', 1], ['b', 1]]);
  for (let i = 0; i < 10; i++) {
    out.length = 0;
    q.take(1000, 3, 10, out);
    for (const m of out) sent.set((m as { id: string }).id, sent.get((m as { id: string }).id)! + 1);
  }
  t.same(Object.fromEntries(sent), { a: 3, b: 3 }, 'exactly the limit');
  t.equal(q.length, 0, 'finished messages leave the queue');
});

t.test('queue: a newer message about the same member replaces the old one', async (t) => {
  const q = new BroadcastQueue();
  let done = 0;
  q.enqueue('m:a', sus('a'), 30, false, () => done++);
  t.ok(q.enqueue('m:a', { type: 'dead', id: 'a', inc: 1, from: 'x' }, 30));
  t.equal(done, 1, 'the replaced message is finished');
  const out: GossipMessage[] = [];
  q.take(1000, 5, 10, out);
  t.same(out.map((m) => m.type), ['dead']);
  // replace() keeps the transmit count (relayed confirmations ride the same wave).
  q.replace('m:a', sus('a'), 30);
  for (let i = 0; i < 10; i++) q.take(1000, 5, 10, out);
  t.equal(out.length, 5, 'still 5 transmissions in all');
});

t.test('queue: the size budget and the message cap are respected', async (t) => {
  const q = new BroadcastQueue();
  for (let i = 0; i < 100; i++) q.enqueue(`k${i}`, sus(`n${i}`), 34);
  const out: GossipMessage[] = [];
  const used = q.take(1000, 4, 128, out);
  t.equal(out.length, 29);
  t.equal(used, 29 * 34);
  out.length = 0;
  q.take(1000, 4, 5, out);
  t.equal(out.length, 5);
});

t.test('dedup: once per (origin, epoch, seq), with a window', async (t) => {
  const d = new Dedup(8);
  t.ok(d.accept('a', 1, 1));
  t.notOk(d.accept('a', 1, 1));
  t.ok(d.accept('a', 2, 1), 'a restarted origin (new epoch) starts over');
  for (let s = 2; s <= 20; s++) t.ok(d.accept('a', 1, s));
  t.notOk(d.accept('a', 1, 5), 'older than the window: treated as seen');
  t.notOk(d.accept('a', 1, 20));
  t.ok(d.accept('b', 1, 20));
});

t.test('user broadcasts reach every member exactly once; piggyback packets never exceed the budget', async (t) => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const net = new MiniNet(ids);
  net.run(100);
  const payloads = [1, 2, 3].map((i) => new Uint8Array(200).fill(i));
  const seqs = payloads.map((p) => net.core('a').broadcast(p));
  t.same(seqs, [1, 2, 3]);
  net.flush();
  net.run(3_000);
  for (const v of ids.slice(1)) {
    const got = net.eventsOf(v, 'user');
    t.equal(got.length, 3, `${v} got each broadcast once`);
    t.same(got.map((e) => (e as { seq: number }).seq).sort(), [1, 2, 3]);
  }
  t.equal(net.eventsOf('a', 'user').length, 0, 'not delivered to the origin');
  // The same datagram delivered twice (network duplication) is delivered once.
  const userPacket = net.sent.find((s) => s.from === 'a' && s.msgs.some((m) => m.type === 'user'))!;
  const dst = userPacket.to;
  const before = net.eventsOf(dst, 'user').length;
  net.core(dst).receive(addrOf('a'), userPacket.msgs);
  net.flush();
  t.equal(net.eventsOf(dst, 'user').length, before, 'duplicate suppressed');
  t.ok(net.core(dst).metrics.dropped.duplicateUser > 0);
  // Each member transmits each broadcast retransmitLimit(4, 6) = 4 times.
  const fromB = net.sent.filter((s) => s.from === 'b').flatMap((s) => s.msgs).filter((m): m is UserMsg => m.type === 'user' && m.seq === 1);
  t.equal(fromB.length, retransmitLimit(4, 6));
  const budget = LAN.maxPacketBytes - LAN.packetOverheadBytes;
  t.ok(net.sent.every((s) => s.msgs.reduce((n, m) => n + messageSize(m), 3) <= budget), 'every packet fits the datagram budget');
  t.throws(() => net.core('a').broadcast(new Uint8Array(2000)), { code: 'PAYLOAD_TOO_LARGE' });
});
