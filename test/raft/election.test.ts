import t from 'tap';
import { RaftCore } from '../../src/raft/core.js';
import { seededRng } from '../../src/util/rng.js';
import { MemoryStorage } from './sim/storage.js';
import { TestCluster } from './helpers.js';

t.test('a single voter elects itself and commits its noop', async (t) => {
  const c = new TestCluster(['a']);
  c.elect('a');
  t.equal(c.get('a').status.role, 'leader');
  t.equal(c.get('a').status.term, 2, 'founding entries are term 1; the first election is term 2');
  t.equal(c.get('a').status.commit, 2, 'bootstrap conf entry and noop committed');
  t.same(c.node('a').applied.map((e) => e.type), ['conf', 'noop']);
});

t.test('three nodes elect exactly one leader, and followers learn it', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  t.same(c.leaders(), ['a']);
  for (const id of ['b', 'c']) {
    t.equal(c.get(id).status.leader, 'a');
    t.equal(c.get(id).status.term, 2);
    t.equal(c.get(id).status.commit, 4, 'three founding conf entries and the noop committed everywhere');
  }
});

t.test('randomized election timeouts stay within [min, max]', async (t) => {
  for (let seed = 1; seed <= 50; seed++) {
    const core = new RaftCore({
      id: 'a',
      rng: seededRng(seed),
      options: { preVote: false },
      boot: new MemoryStorage({ voters: ['a', 'b', 'c'], learners: [] }).boot(),
    });
    let ticks = 0;
    while (core.status.role === 'follower') {
      core.tick();
      ticks++;
    }
    t.ok(ticks >= 10 && ticks <= 20, `seed ${seed}: campaigned after ${ticks} ticks`);
  }
});

t.test('all nodes ticking converge on one leader per term', async (t) => {
  for (let seed = 1; seed <= 20; seed++) {
    const c = new TestCluster(['a', 'b', 'c', 'd', 'e'], {}, seed);
    for (let i = 0; i < 100 && c.leaders().length === 0; i++) c.tick();
    t.equal(c.leaders().length, 1, `seed ${seed}: one leader`);
  }
});

t.test('a node grants one vote per term and persists it before answering', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { preVote: false });
  const b = c.get('b');
  b.step({ type: 'vote', from: 'a', to: 'b', term: 5, pre: false, lastIndex: 3, lastTerm: 1, transfer: false });
  const rd = b.ready();
  t.same(rd.hardState, { term: 5, vote: 'a', commit: 3 });
  t.ok(rd.mustSync, 'vote must be fsynced');
  t.match(rd.messages, [{ type: 'voteResp', to: 'a', term: 5, reject: false }]);
  b.advance(rd);
  b.step({ type: 'vote', from: 'c', to: 'b', term: 5, pre: false, lastIndex: 3, lastTerm: 1, transfer: false });
  const rd2 = b.ready();
  t.match(rd2.messages, [{ type: 'voteResp', to: 'c', reject: true }], 'second candidate in the same term is refused');
  b.advance(rd2);
  b.step({ type: 'vote', from: 'a', to: 'b', term: 5, pre: false, lastIndex: 3, lastTerm: 1, transfer: false });
  const rd3 = b.ready();
  t.match(rd3.messages, [{ type: 'voteResp', to: 'a', reject: false }], 'a replayed request from the same candidate is granted again');
});

t.test('a candidate with a stale log is refused', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { checkQuorum: false });
  c.elect('a');
  c.propose('a', 'x');
  // c's log is as long as everyone's; a fake candidate with an older last term loses.
  const b = c.get('b');
  b.step({ type: 'vote', from: 'c', to: 'b', term: 9, pre: false, lastIndex: 5, lastTerm: 0, transfer: false });
  const rd = b.ready();
  t.match(rd.messages, [{ type: 'voteResp', reject: true, term: 9 }]);
  t.equal(rd.hardState?.vote ?? null, null);
  b.advance(rd);
});

t.test('a higher term makes a leader step down', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { checkQuorum: false, preVote: false });
  c.elect('a');
  const a = c.get('a');
  a.step({ type: 'appendResp', from: 'b', to: 'a', term: 7, index: 0, reject: true, hintIndex: 0, hintTerm: 0 });
  t.equal(a.status.role, 'follower');
  t.equal(a.status.term, 7);
  t.equal(a.status.leader, null);
});

t.test('split votes resolve: candidates retry with new terms until one wins', async (t) => {
  const c = new TestCluster(['a', 'b', 'c', 'd'], { preVote: false });
  // a can only reach c, b only d: no candidate can gather 3 of 4 votes.
  c.filter = (m) => m.type === 'vote' && ((m.from === 'a' && m.to !== 'c') || (m.from === 'b' && m.to !== 'd'));
  c.tick(['a', 'b'], 100);
  t.equal(c.leaders().length, 0, 'nobody wins while votes split');
  t.ok(c.get('a').status.term >= 3 && c.get('b').status.term >= 3, 'both kept retrying with new terms');
  c.filter = () => false;
  for (let i = 0; i < 100 && c.leaders().length === 0; i++) c.tick();
  t.equal(c.leaders().length, 1);
});

t.test('a leader never speaks for a term that is not durable yet (single voter with a learner)', async (t) => {
  const c = new TestCluster(['a'], {}, 1, { voters: ['a'], learners: ['l'] });
  c.addNode('l');
  c.pump();
  const a = c.get('a');
  while (a.status.role === 'follower') a.tick();
  const rd = a.ready();
  t.ok(rd.hardState && rd.hardState.term === a.hardState().term, 'the new term is in this Ready');
  t.same(rd.messages.filter((m) => m.type === 'append' || m.type === 'heartbeat'), [], 'no leader traffic before it is durable');
  t.not(a.status.role, 'leader');
  a.advance(rd);
  t.equal(a.status.role, 'leader', 'leads once the vote is durable');
  const rd2 = a.ready();
  t.equal(rd2.hardState?.term ?? a.hardState().term, a.hardState().term);
  t.ok(rd2.messages.some((m) => m.type === 'append' && m.to === 'l'));
  a.advance(rd2);
});
