import t from 'tap';
import { TestCluster } from './helpers.js';

t.test('PreVote: a partitioned node does not inflate its term, and rejoining does not depose the leader', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { preVote: true, checkQuorum: true });
  c.elect('a');
  const term = c.get('a').status.term;
  c.isolate('c');
  c.tick(['a', 'b', 'c'], 100);
  t.equal(c.get('c').status.term, term, 'c campaigned only with PreVote: its term did not move');
  t.ok(c.get('c').metrics.preElections > 0, 'c did try pre-elections');
  t.equal(c.get('c').metrics.elections, 0, 'but never a real election');
  c.heal();
  c.tick(['a', 'b', 'c'], 30);
  t.same(c.leaders(), ['a'], 'a is still leader');
  t.equal(c.get('a').status.term, term, 'no term bump');
  t.equal(c.get('c').status.leader, 'a');
});

t.test('without PreVote (and CheckQuorum) the same partition bumps terms and disrupts the leader', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { preVote: false, checkQuorum: false });
  c.elect('a');
  const term = c.get('a').status.term;
  c.isolate('c');
  c.tick(['a', 'b', 'c'], 100);
  t.ok(c.get('c').status.term > term + 2, 'c kept bumping its term');
  c.heal();
  c.tick(['a', 'b', 'c'], 60);
  t.ok(c.get(c.leaders()[0]!).status.term > term, 'the cluster had to move to a higher term');
});

t.test('PreVote grants do not change the voter term or vote', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { preVote: true, checkQuorum: false });
  c.pump(); // persist the founding entries first
  const b = c.get('b');
  const before = b.hardState();
  b.step({ type: 'vote', from: 'a', to: 'b', term: before.term + 1, pre: true, lastIndex: 3, lastTerm: 1, transfer: false });
  const rd = b.ready();
  t.equal(rd.hardState, null, 'nothing to persist for a PreVote');
  t.match(rd.messages, [{ type: 'voteResp', pre: true, reject: false, term: before.term + 1 }]);
  b.advance(rd);
  t.same(b.hardState(), before);
});

t.test('a pre-candidate that wins the PreVote campaigns for real in the next term', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { preVote: true });
  const t0 = c.get('a').status.term;
  c.elect('a');
  t.equal(c.get('a').status.term, t0 + 1, 'exactly one term bump for the whole election');
  t.equal(c.get('a').metrics.preElections, 1);
  t.equal(c.get('a').metrics.elections, 1);
});
