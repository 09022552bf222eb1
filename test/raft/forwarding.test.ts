import t from 'tap';
import type { ProposeMsg } from '../../src/raft/interface.js';
import { enc, TestCluster } from './helpers.js';

t.test('a follower forwards proposals to the leader; they commit everywhere', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  const r = c.get('b').propose(enc('from-b'));
  t.same(r, { forwarded: true, to: 'a' });
  c.pump();
  for (const id of ['a', 'b', 'c']) t.same(c.appliedData(id), ['from-b']);
  t.equal(c.get('b').metrics.proposalsForwarded, 1);
});

t.test('proposals forwarded in one burst travel in one message', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.clearSent();
  for (let i = 0; i < 5; i++) c.get('c').propose(enc(`c${i}`));
  c.pump();
  const fw = c.sent.filter((m): m is ProposeMsg => m.type === 'propose');
  t.equal(fw.length, 1);
  t.equal(fw[0]!.entries.length, 5);
  t.same(c.appliedData('a'), ['c0', 'c1', 'c2', 'c3', 'c4']);
});

t.test('no leader known: NOT_LEADER; forwarding disabled: NOT_LEADER naming the leader', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  t.throws(() => c.get('b').propose(enc('x')), { code: 'NOT_LEADER', leaderId: null });
  const d = new TestCluster(['a', 'b', 'c'], { forwardProposals: false });
  d.elect('a');
  t.throws(() => d.get('b').propose(enc('x')), { code: 'NOT_LEADER', leaderId: 'a' });
});

t.test('a forwarded proposal reaching a node that is no longer leader is dropped and counted', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.pump();
  const term = c.get('b').status.term;
  c.get('b').step({ type: 'propose', from: 'c', to: 'b', term, entries: [enc('lost')] });
  t.equal(c.get('b').metrics.dropped.proposal, 1);
});
