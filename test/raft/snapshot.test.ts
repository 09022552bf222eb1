import t from 'tap';
import type { SnapshotMsg } from '../../src/raft/interface.js';
import { enc, TestCluster } from './helpers.js';

function snapshotAll(c: TestCluster, id: string, data: Uint8Array): void {
  const core = c.get(id);
  const snap = core.compact(core.status.applied, data);
  if (snap) c.node(id).storage.saveSnapshot(snap);
}

t.test('compaction keeps keepEntries below the snapshot and drops the rest', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { keepEntries: 5 });
  c.elect('a');
  for (let i = 0; i < 30; i++) c.propose('a', `v${i}`);
  const a = c.get('a');
  const applied = a.status.applied;
  const snap = a.compact(applied, enc('state'));
  t.equal(snap?.meta.index, applied);
  t.equal(snap?.meta.term, a.status.term);
  t.same(snap?.meta.conf, { voters: ['a', 'b', 'c'], learners: [] });
  t.equal(a.status.firstIndex, applied - 5 + 1);
  t.equal(a.status.snapshotIndex, applied);
  t.equal(a.compact(applied - 3, enc('older')), null, 'an older snapshot is ignored');
  t.throws(() => a.compact(applied + 1, enc('x')), { code: 'BAD_REQUEST' });
});

t.test('a follower behind the compaction point gets a chunked snapshot', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { keepEntries: 0, snapshotChunkBytes: 10 });
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 20; i++) c.propose('a', `v${i}`);
  const state = enc('x'.repeat(95));
  snapshotAll(c, 'a', state);
  c.heal();
  c.clearSent();
  c.tick(['a', 'b', 'c'], 3);
  const chunks = c.sent.filter((m): m is SnapshotMsg => m.type === 'snapshot' && m.to === 'c');
  t.equal(chunks.length, 10, '95 bytes in 10-byte chunks');
  t.same(chunks.map((m) => m.offset), [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  const cn = c.node('c');
  t.same(cn.snapshots, [c.get('a').status.snapshotIndex], 'one Ready.snapshot with the assembled data');
  t.same(cn.storage.snapshot?.data, state);
  t.equal(c.get('c').status.commit, c.get('a').status.commit);
  t.equal(c.get('a').progressOf('c')?.state, 'replicate');
  // And the log flows again after it.
  c.propose('a', 'after');
  t.same(c.appliedData('c'), ['after']);
});

t.test('lost chunks are resent and the transfer completes', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { keepEntries: 0, snapshotChunkBytes: 8 });
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 10; i++) c.propose('a', `v${i}`);
  snapshotAll(c, 'a', enc('y'.repeat(60)));
  c.heal();
  let n = 0;
  c.filter = (m) => (m.type === 'snapshot' || m.type === 'snapshotResp') && n++ % 3 === 1;
  c.tick(['a', 'b', 'c'], 40);
  c.filter = () => false;
  t.equal(c.get('c').status.snapshotIndex, c.get('a').status.snapshotIndex);
  t.same(c.node('c').storage.snapshot?.data, enc('y'.repeat(60)));
  t.equal(c.get('a').progressOf('c')?.state, 'replicate');
});

t.test('a node restarts from its snapshot and log', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { keepEntries: 2 });
  c.elect('a');
  for (let i = 0; i < 10; i++) c.propose('a', `v${i}`);
  snapshotAll(c, 'b', enc('snap'));
  for (let i = 10; i < 15; i++) c.propose('a', `v${i}`);
  const before = c.get('b').status;
  const st = c.crash('b');
  const b = c.restart('b', st);
  t.equal(b.core.status.lastIndex, before.lastIndex);
  t.equal(b.core.status.term, before.term);
  t.equal(b.core.status.snapshotIndex, before.snapshotIndex);
  c.pump();
  t.same(c.appliedData('b'), ['v10', 'v11', 'v12', 'v13', 'v14'], 'entries after the snapshot are applied again');
  c.propose('a', 'more');
  t.equal(c.appliedData('b').at(-1), 'more');
});

t.test('a snapshot larger than maxSnapshotBytes is refused and counted', async (t) => {
  const c = new TestCluster(['a', 'b'], { maxSnapshotBytes: 10 });
  c.pump();
  const b = c.get('b');
  b.step({ type: 'snapshot', from: 'a', to: 'b', term: 5, meta: { index: 50, term: 5, conf: { voters: ['a', 'b'], learners: [] } }, offset: 0, total: 11, data: new Uint8Array(11) });
  t.equal(b.metrics.dropped.badSnapshot, 1);
  t.equal(b.status.snapshotIndex, 0);
});
