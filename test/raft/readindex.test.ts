import t from 'tap';
import { dec, enc, TestCluster } from './helpers.js';

t.test('leader ReadIndex: answered only after a heartbeat round confirms leadership', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.propose('a', 'x');
  const a = c.get('a');
  a.readIndex(enc('r1'));
  const rd = a.ready();
  t.same(rd.readStates, [], 'not before the quorum answered');
  t.ok(rd.messages.some((m) => m.type === 'heartbeat' && m.readSeq > 0), 'heartbeat round started');
  a.advance(rd);
  c.queue.push(...rd.messages);
  c.pump();
  t.equal(c.node('a').readStates.length, 1);
  t.equal(dec(c.node('a').readStates[0]!.ctx), 'r1');
  t.equal(c.node('a').readStates[0]!.index, a.status.commit);
});

t.test('many reads share one heartbeat round', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.clearSent();
  for (let i = 0; i < 10; i++) c.get('a').readIndex(enc(`r${i}`));
  c.pump();
  t.equal(c.node('a').readStates.length, 10);
  t.equal(c.sent.filter((m) => m.type === 'heartbeat').length, 2, 'one heartbeat per follower');
});

t.test('a partitioned leader cannot confirm a read', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { checkQuorum: false });
  c.elect('a');
  c.isolate('a');
  c.get('a').readIndex(enc('stale?'));
  c.tick(['a'], 30);
  t.equal(c.node('a').readStates.length, 0);
});

t.test('reads wait until the new leader committed an entry of its term', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.filter = (m) => m.type === 'appendResp';
  c.elect('a');
  c.get('a').readIndex(enc('early'));
  c.pump();
  t.equal(c.node('a').readStates.length, 0, 'commit index may still lag the previous leader');
  c.filter = () => false;
  c.tick(['a'], 2);
  t.equal(c.node('a').readStates.length, 1);
  t.ok(c.node('a').readStates[0]!.index >= c.get('a').status.lastIndex - 0);
});

t.test('a follower forwards ReadIndex and gets the read state', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.propose('a', 'x');
  c.get('b').readIndex(enc('from-b'));
  c.pump();
  t.equal(c.node('b').readStates.length, 1);
  t.equal(dec(c.node('b').readStates[0]!.ctx), 'from-b');
  t.equal(c.node('b').readStates[0]!.index, c.get('a').status.commit);
  // A replayed answer is not handed out twice.
  const resp = c.sent.find((m) => m.type === 'readIndexResp')!;
  c.get('b').step(resp);
  t.equal(c.get('b').metrics.dropped.unexpected, 1);
});

t.test('without a known leader a read is refused', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  t.throws(() => c.get('b').readIndex(enc('x')), { code: 'NOT_LEADER' });
});

t.test('too many pending reads are refused', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { maxPendingReads: 2 });
  c.elect('a');
  c.isolate('a');
  c.get('a').readIndex(enc('1'));
  c.get('a').readIndex(enc('2'));
  t.throws(() => c.get('a').readIndex(enc('3')), { code: 'TOO_MANY_READS' });
});

t.test('lease reads: answered at once while the lease holds, never after losing the quorum', async (t) => {
  t.throws(() => new TestCluster(['a'], { readOnly: 'lease', checkQuorum: false }), /requires checkQuorum/);
  const c = new TestCluster(['a', 'b', 'c'], { readOnly: 'lease', checkQuorum: true });
  // (A freshly started node refuses votes for one election timeout with lease
  // reads on: it may have granted a lease just before a crash.)
  for (let i = 0; i < 100 && c.leaders().length === 0; i++) c.tick();
  const l = c.leaders()[0]!;
  c.tick(undefined, 2); // heartbeats acknowledged: lease established
  const a = c.get(l);
  a.readIndex(enc('lease'));
  const rd = a.ready();
  t.equal(rd.readStates.length, 1, 'served without a heartbeat round');
  t.equal(rd.messages.filter((m) => m.type === 'heartbeat').length, 0);
  a.advance(rd);
  c.isolate(l);
  c.tick([l], 9);
  t.equal(a.status.role, 'leader', 'still believes it leads');
  a.readIndex(enc('late'));
  c.pump();
  t.equal(c.node(l).readStates.length, 0, 'lease expired: falls back to a heartbeat round, which cannot complete');
});
