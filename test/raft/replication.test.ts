import t from 'tap';
import { RaftCore } from '../../src/raft/core.js';
import type { AppendMsg } from '../../src/raft/interface.js';
import { seededRng } from '../../src/util/rng.js';
import { enc, TestCluster } from './helpers.js';
import { MemoryStorage } from './sim/storage.js';

t.test('proposals replicate, commit and apply in order on every node', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  for (let i = 0; i < 20; i++) c.propose('a', `v${i}`);
  const want = Array.from({ length: 20 }, (_, i) => `v${i}`);
  for (const id of ['a', 'b', 'c']) t.same(c.appliedData(id), want, `${id} applied all in order`);
});

t.test('a leader commits only what its own disk confirmed (advance), then hands it out', async (t) => {
  const core = new RaftCore({ id: 'a', rng: seededRng(1), boot: new MemoryStorage({ voters: ['a'], learners: [] }).boot() });
  while (core.status.role !== 'leader') {
    core.tick();
    while (core.hasReady()) core.advance(core.ready());
  }
  const r = core.propose(enc('x'));
  t.match(r, { forwarded: false });
  const rd = core.ready();
  t.equal(rd.entries.length, 1, 'entry to persist');
  t.ok(rd.mustSync);
  t.same(rd.committed, [], 'not committed before it is durable');
  core.advance(rd);
  const rd2 = core.ready();
  t.equal(rd2.committed.length, 1, 'committed once durable');
  t.equal(rd2.hardState?.commit, r.forwarded ? -1 : r.index);
  t.equal(rd2.mustSync, false, 'a commit-only change needs no fsync');
  core.advance(rd2);
});

t.test('batching: proposals made before ready() travel in one append per follower', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.clearSent();
  for (let i = 0; i < 10; i++) c.get('a').propose(enc(`p${i}`));
  c.pump();
  const appends = c.sent.filter((m): m is AppendMsg => m.type === 'append' && m.entries.length > 0);
  t.equal(appends.length, 2, 'one append per follower');
  t.equal(appends[0]!.entries.length, 10);
});

t.test('maxMsgBytes splits a backlog into several appends', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { maxMsgBytes: 8 });
  c.elect('a');
  c.clearSent();
  for (let i = 0; i < 10; i++) c.get('a').propose(enc(`p${i}`)); // 2 bytes each
  c.pump();
  const toB = c.sent.filter((m): m is AppendMsg => m.type === 'append' && m.to === 'b' && m.entries.length > 0);
  t.ok(toB.length >= 3, `${toB.length} appends`);
  for (const m of toB) t.ok(m.entries.reduce((n, e) => n + e.data.length, 0) <= 8);
  t.equal(c.appliedData('b').length, 10);
});

t.test('pipelining is bounded by the in-flight window', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { maxInflightMsgs: 3, maxMsgBytes: 2 });
  c.elect('a');
  // Followers stop acknowledging: the leader may have at most 3 appends in flight to each.
  c.filter = (m) => m.type === 'appendResp';
  c.clearSent();
  for (let i = 0; i < 10; i++) c.get('a').propose(enc(`p${i}`));
  c.pump();
  const toB = c.sent.filter((m): m is AppendMsg => m.type === 'append' && m.to === 'b' && m.entries.length > 0);
  t.equal(toB.length, 3, 'window full after 3 messages');
  t.equal(c.get('a').progressOf('b')?.state, 'replicate');
  t.equal(c.get('a').progressOf('b')?.inflights.count, 3);
  // Acks resume the flow; everything commits.
  c.filter = () => false;
  c.tick(['a'], 3);
  t.equal(c.appliedData('b').length, 10);
});

t.test('probe state: one append at a time until the follower answers', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  const sb = c.crash('b');
  for (let i = 0; i < 5; i++) c.propose('a', `x${i}`);
  c.restart('b', sb);
  c.get('a').reportUnreachable('b'); // the transport noticed: back to probing
  t.equal(c.get('a').progressOf('b')?.state, 'probe');
  c.filter = (m) => m.from === 'b';
  c.clearSent();
  c.get('a').propose(enc('y'));
  c.pump();
  c.tick(['a'], 3);
  const toB = c.sent.filter((m) => m.type === 'append' && m.to === 'b');
  t.ok(toB.length <= 1, 'no second probe without an answer');
  c.filter = () => false;
  c.tick(['a'], 3);
  t.equal(c.get('a').progressOf('b')?.state, 'replicate');
  t.equal(c.appliedData('b').length, 6);
});

t.test('duplicated and reordered appends never truncate a follower\'s matching entries', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  const old = c.sent.filter((m) => m.type === 'append' && m.to === 'b');
  for (let i = 0; i < 5; i++) c.propose('a', `x${i}`);
  const last = c.get('b').status.lastIndex;
  for (const m of old) c.get('b').step(m); // replay stale appends
  c.pump();
  t.equal(c.get('b').status.lastIndex, last);
  t.equal(c.appliedData('b').length, 5);
});

t.test('a follower that lost acknowledged entries (damaged tail cut by its driver) gets them again', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  for (let i = 0; i < 10; i++) c.propose('a', `v${i}`);
  const st = c.crash('b');
  st.entries.length -= 5; // bit rot in the tail, cut on boot (storage lowers the commit index with it)
  st.hardState = { ...st.hardState, commit: Math.min(st.hardState.commit, st.lastIndex()) };
  c.restart('b', st);
  t.equal(c.get('a').progressOf('b')?.match, c.get('a').status.lastIndex, 'the leader still believes b holds everything');
  c.propose('a', 'after');
  t.equal(c.get('b').status.lastIndex, c.get('a').status.lastIndex, 'b fetched the lost tail');
  t.equal(c.get('b').termAt(c.get('a').status.lastIndex), c.get('a').status.term);
});
