import t from 'tap';
import { enc, TestCluster } from './helpers.js';

t.test('transfer to an up-to-date follower: it takes over at once, without waiting for a timeout', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.propose('a', 'x');
  const term = c.get('a').status.term;
  c.get('a').transferLeadership('b');
  c.pump();
  t.same(c.leaders(), ['b']);
  t.equal(c.get('b').status.term, term + 1);
  t.equal(c.get('b').metrics.preElections, 0, 'no PreVote round for a transfer');
  t.equal(c.get('a').status.leader, 'b');
});

t.test('transfer to a lagging follower: the leader catches it up first', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.block('a', 'c');
  for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
  c.unblock('a', 'c');
  c.clearSent();
  c.get('a').transferLeadership('c');
  c.pump();
  c.tick(['a'], 2);
  const tn = c.sent.findIndex((m) => m.type === 'timeoutNow');
  const lastAppend = c.sent.map((m) => m.type === 'append' && m.to === 'c' && m.entries.length > 0).lastIndexOf(true);
  t.ok(tn > lastAppend, 'TimeoutNow only after c received everything');
  t.same(c.leaders(), ['c']);
  t.same(c.appliedData('c').slice(0, 5), ['v0', 'v1', 'v2', 'v3', 'v4']);
});

t.test('proposals and conf changes are refused during a transfer; it aborts after an election timeout', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('c');
  c.propose('a', 'x'); // c is now behind: the transfer cannot finish
  c.get('a').transferLeadership('c');
  t.throws(() => c.get('a').propose(enc('y')), { code: 'PROPOSAL_DROPPED' });
  t.throws(() => c.get('a').proposeConfChange({ type: 'addLearner', node: 'd' }), { code: 'TRANSFER_IN_PROGRESS' });
  t.throws(() => c.get('a').transferLeadership('b'), { code: 'TRANSFER_IN_PROGRESS' });
  t.doesNotThrow(() => c.get('a').transferLeadership('c'), 'asking again for the same target is a no-op');
  c.tick(['a', 'b'], 10);
  t.equal(c.get('a').status.transferee, null, 'aborted');
  t.equal(c.get('a').metrics.transfersAborted, 1);
  t.same(c.leaders(), ['a']);
  t.doesNotThrow(() => c.get('a').propose(enc('y')));
});

t.test('bad transfer requests', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  t.throws(() => c.get('a').transferLeadership('zz'), { code: 'INVALID_TRANSFER' });
  t.throws(() => c.get('b').transferLeadership('c'), { code: 'NOT_LEADER', leaderId: 'a' });
  t.doesNotThrow(() => c.get('a').transferLeadership('a'), 'to itself: nothing to do');
});
