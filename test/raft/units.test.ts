import t from 'tap';
import type { Entry } from '../../src/raft/interface.js';
import { RaftLog } from '../../src/raft/log.js';
import { Inflights, Progress } from '../../src/raft/progress.js';
import { majority, quorumActive, quorumMin, voteResult } from '../../src/raft/quorum.js';
import { DEFAULT_OPTIONS, resolveOptions } from '../../src/raft/options.js';
import { ReadQueue } from '../../src/raft/readonly.js';
import { SnapshotAssembly } from '../../src/raft/snapshot-assembly.js';

const e = (index: number, term: number, n = 1): Entry => ({ index, term, type: 'normal', data: new Uint8Array(n) });

t.test('RaftLog: term lookup, slices, term runs, truncation, compaction', async (t) => {
  const log = new RaftLog(0, 0, [e(1, 1), e(2, 1), e(3, 2), e(4, 2), e(5, 2), e(6, 5)], 2);
  t.equal(log.lastIndex(), 6);
  t.equal(log.lastTerm(), 5);
  t.equal(log.term(0), 0);
  t.equal(log.term(4), 2);
  t.equal(log.term(7), undefined);
  t.equal(log.slice(2, 6, 2).length, 2, 'byte limit');
  t.equal(log.slice(2, 6, 0).length, 1, 'at least one entry');
  t.equal(log.lastIndexWithTermAtMost(3, 6), 5);
  t.equal(log.lastIndexWithTermAtMost(1, 6), 2);
  t.equal(log.firstIndexOfTermRun(1, 5), 3);
  t.equal(log.hasUnstable(), false, 'boot entries are durable');
  log.truncateFrom(5);
  t.equal(log.lastIndex(), 4);
  log.append(e(5, 6));
  t.same(log.unstable().map((x) => x.index), [5]);
  log.markHanded(5);
  log.stableToHanded();
  t.equal(log.stable, 5);
  t.throws(() => log.truncateFrom(2), /committed/);
  log.commitTo(4);
  log.compactTo(3);
  t.equal(log.firstIndex(), 4);
  t.equal(log.term(3), 2);
  t.equal(log.term(2), undefined);
  t.throws(() => log.slice(3, 4), /below first index/);
  log.restore(10, 7);
  t.equal(log.lastIndex(), 10);
  t.equal(log.committed, 10);
});

t.test('Inflights: count and byte limits, freeing by index', async (t) => {
  const f = new Inflights(3, 100);
  f.add(1, 10);
  f.add(3, 10);
  t.notOk(f.full());
  f.add(5, 10);
  t.ok(f.full(), 'message limit');
  f.freeLE(3);
  t.equal(f.count, 1);
  f.add(6, 95);
  t.ok(f.full(), 'byte limit');
  f.freeFirst();
  t.equal(f.bytes, 95);
  t.throws(() => f.add(2, 1), /order/);
});

t.test('Progress: probe/replicate/snapshot transitions and stale rejections', async (t) => {
  const p = new Progress(5, 4, 0);
  t.equal(p.state, 'probe');
  p.sentEntries(6, 2);
  t.ok(p.paused, 'one probe at a time');
  t.notOk(p.canSend());
  t.ok(p.maybeUpdate(6));
  p.becomeReplicate();
  t.equal(p.next, 7);
  p.sentEntries(9, 3);
  p.sentEntries(12, 3);
  t.equal(p.next, 13);
  t.notOk(p.maybeDecrTo(5, 1), 'rejection below match is stale');
  t.ok(p.maybeDecrTo(10, 8));
  t.equal(p.state, 'probe');
  t.equal(p.next, 8);
  t.notOk(p.maybeDecrTo(10, 8), 'probe only trusts a rejection of next-1');
  // A follower that lost acknowledged entries (damaged tail cut on boot) rejects at its match: start over below it.
  p.maybeUpdate(9);
  p.becomeReplicate();
  t.ok(p.maybeDecrTo(9, 4));
  t.same([p.state, p.match, p.next], ['probe', 3, 4]);
  p.becomeSnapshot({ meta: { index: 50, term: 3, conf: { voters: [], learners: [] } }, data: new Uint8Array(1) });
  t.notOk(p.canSend());
  p.becomeProbe();
  t.equal(p.next, 51, 'after a snapshot, probe from past it');
});

t.test('quorum arithmetic', async (t) => {
  t.same([1, 2, 3, 4, 5].map(majority), [1, 2, 2, 3, 3]);
  const m: Record<string, number> = { a: 5, b: 9, c: 7 };
  t.equal(quorumMin(['a', 'b', 'c'], (id) => m[id]!), 7);
  t.equal(quorumMin(['a', 'b', 'c', 'd'], (id) => m[id] ?? 0), 5);
  t.equal(voteResult(['a', 'b', 'c'], new Map([['a', true], ['b', true]])), 'won');
  t.equal(voteResult(['a', 'b', 'c'], new Map([['a', true], ['b', false], ['c', false]])), 'lost');
  t.equal(voteResult(['a', 'b', 'c'], new Map([['a', true], ['x', true]])), 'pending', 'votes of non-voters do not count');
  t.ok(quorumActive(['a', 'b', 'c'], (id) => id !== 'c'));
  t.notOk(quorumActive(['a', 'b', 'c'], (id) => id === 'a'));
});

t.test('options: defaults and validation', async (t) => {
  t.equal(DEFAULT_OPTIONS.electionTicksMin, 10);
  t.equal(DEFAULT_OPTIONS.electionTicksMax, 20);
  t.equal(DEFAULT_OPTIONS.heartbeatTicks, 1);
  t.equal(DEFAULT_OPTIONS.snapshotChunkBytes, 1 << 20);
  t.equal(DEFAULT_OPTIONS.keepEntries, 500);
  t.equal(DEFAULT_OPTIONS.snapshotEveryEntries, 10_000);
  t.throws(() => resolveOptions({ electionTicksMin: 1 }), RangeError);
  t.throws(() => resolveOptions({ electionTicksMax: 5 }), RangeError);
});

t.test('ReadQueue releases in order up to a sequence', async (t) => {
  const q = new ReadQueue();
  for (let s = 1; s <= 4; s++) q.push({ seq: s, index: s, ctx: new Uint8Array([s]), from: 'a' });
  t.same(q.releaseUpTo(2).map((r) => r.seq), [1, 2]);
  t.equal(q.size, 2);
  t.same(q.releaseUpTo(10).map((r) => r.seq), [3, 4]);
});

t.test('SnapshotAssembly: in-order chunks, re-acks, restarts', async (t) => {
  const a = new SnapshotAssembly(100);
  const meta = { index: 9, term: 2, conf: { voters: ['a'], learners: [] } };
  t.same(a.add(meta, 4, 8, new Uint8Array(4)), { kind: 'ack', offset: 0 }, 'must start at 0');
  t.same(a.add(meta, 0, 8, new Uint8Array([1, 2, 3, 4])), { kind: 'ack', offset: 4 });
  t.same(a.add(meta, 0, 8, new Uint8Array([1, 2, 3, 4])), { kind: 'ack', offset: 4 }, 'duplicate re-acked');
  const done = a.add(meta, 4, 8, new Uint8Array([5, 6, 7, 8]));
  t.same(done, { kind: 'done', data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) });
  t.same(a.add(meta, 0, 200, new Uint8Array(1)), { kind: 'bad' }, 'too large');
  t.same(a.add(meta, 5, 4, new Uint8Array(1)), { kind: 'bad' }, 'past the end');
});
