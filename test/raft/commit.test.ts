import t from 'tap';
import { RaftCore } from '../../src/raft/core.js';
import { encodeConfChange } from '../../src/raft/confchange.js';
import type { Entry } from '../../src/raft/interface.js';
import { seededRng } from '../../src/util/rng.js';
import { TestCluster } from './helpers.js';

t.test('a new leader appends a noop of its term', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  const a = c.get('a');
  const noop = a.entryAt(a.status.lastIndex);
  t.equal(noop?.type, 'noop');
  t.equal(noop?.term, a.status.term);
});

t.test('entries of an earlier term are not committed by counting replicas (Raft §5.4.2, Figure 8)', async (t) => {
  const founding: Entry[] = ['a', 'b', 'c'].map((node, i) => ({ term: 1, index: i + 1, type: 'conf', data: encodeConfChange({ type: 'addVoter', node }) }));
  const old: Entry = { term: 2, index: 4, type: 'normal', data: new Uint8Array([42]) };
  const a = new RaftCore({
    id: 'a',
    rng: seededRng(3),
    options: { preVote: false },
    boot: { hardState: { term: 2, vote: 'a', commit: 3 }, snapshot: null, entries: [...founding, old], applied: 3, conf: { voters: [], learners: [] } },
  });
  // a wins term 3 (votes injected by hand) and appends its noop at 5.
  while (a.status.role !== 'candidate') a.tick();
  while (a.hasReady()) a.advance(a.ready()); // vote requests go out once our vote is durable
  a.step({ type: 'voteResp', from: 'b', to: 'a', term: 3, pre: false, reject: false });
  t.equal(a.status.role, 'leader');
  while (a.hasReady()) a.advance(a.ready());
  t.equal(a.status.lastIndex, 5);
  // b reports holding index 4 (the term-2 entry): a majority has it, but it is not of term 3.
  a.step({ type: 'appendResp', from: 'b', to: 'a', term: 3, index: 4, reject: false, hintIndex: 0, hintTerm: 0 });
  t.equal(a.status.commit, 3, 'index 4 not committed on replica count alone');
  a.step({ type: 'appendResp', from: 'b', to: 'a', term: 3, index: 5, reject: false, hintIndex: 0, hintTerm: 0 });
  t.equal(a.status.commit, 5, 'committing the term-3 noop commits index 4 with it');
});

t.test('commit index sent to a follower never exceeds what it is known to hold', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.block('a', 'c');
  for (let i = 0; i < 3; i++) c.propose('a', `x${i}`);
  c.heal();
  c.clearSent();
  c.tick(['a']);
  const hb = c.sent.find((m) => m.type === 'heartbeat' && m.to === 'c');
  t.ok(hb && hb.type === 'heartbeat' && hb.commit <= c.get('a').progressOf('c')!.match);
});

t.test('a leader does not count its own entries before they are durable (appends may overlap its fsync)', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  const a = c.get('a');
  a.propose(new Uint8Array([1]));
  const rd = a.ready(); // the driver sends the appends while its own fsync runs
  const index = rd.entries[0]!.index;
  const toB = rd.messages.filter((m) => m.to === 'b');
  for (const m of toB) c.get('b').step(m);
  const bReady = c.get('b').ready();
  c.get('b').advance(bReady);
  for (const m of bReady.messages) if (m.to === 'a') a.step(m);
  t.ok(a.status.commit < index, 'b alone plus an undurable leader is not a quorum');
  a.advance(rd); // now the leader's copy is durable
  t.equal(a.status.commit, index);
});
