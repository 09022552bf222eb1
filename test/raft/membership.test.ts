import t from 'tap';
import { decodeConfChange, encodeConfChange } from '../../src/raft/confchange.js';
import { RaftError } from '../../src/raft/errors.js';
import type { ConfChange } from '../../src/raft/interface.js';
import { enc, TestCluster } from './helpers.js';

function conf(c: TestCluster, leader: string, change: ConfChange): void {
  c.get(leader).proposeConfChange(change);
  c.pump();
}

t.test('a joining node learns the founding configuration from the log, catches up as a learner, then is promoted', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
  c.addNode('d');
  conf(c, 'a', { type: 'addLearner', node: 'd' });
  c.tick(['a'], 2);
  t.same(c.get('d').confState(), { voters: ['a', 'b', 'c'], learners: ['d'] }, 'd replayed the whole history');
  t.same(c.appliedData('d'), ['v0', 'v1', 'v2', 'v3', 'v4'], 'learner caught up');
  // A learner is not counted: with b and c down, a cannot commit even though d acks.
  c.isolate('b');
  c.isolate('c');
  c.unblock('a', 'd');
  c.unblock('d', 'a');
  const before = c.get('a').status.commit;
  c.get('a').propose(enc('needs-quorum'));
  c.pump();
  t.equal(c.get('a').status.commit, before, 'learner ack does not make a quorum');
  // Learners never campaign.
  c.tick(['d'], 60);
  t.equal(c.get('d').metrics.preElections + c.get('d').metrics.elections, 0);
  c.heal();
  c.tick(['a'], 2);
  conf(c, 'a', { type: 'addVoter', node: 'd' });
  c.tick(['a'], 2);
  t.same(c.get('a').confState(), { voters: ['a', 'b', 'c', 'd'], learners: [] });
  // Now 3 of 4 are needed: with c and d down, a+b cannot commit.
  c.isolate('c');
  c.isolate('d');
  const commit = c.get('a').status.commit;
  c.get('a').propose(enc('x'));
  c.pump();
  t.equal(c.get('a').status.commit, commit, 'quorum is now 3 of 4');
});

t.test('a learner is promoted only once it has caught up', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { promotionMaxLag: 2 });
  c.elect('a');
  c.addNode('d');
  c.isolate('d');
  conf(c, 'a', { type: 'addLearner', node: 'd' });
  c.tick(['a'], 2);
  for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
  t.throws(() => c.get('a').proposeConfChange({ type: 'addVoter', node: 'd' }), { code: 'LEARNER_BEHIND' });
  c.heal();
  c.tick(['a'], 3);
  t.doesNotThrow(() => c.get('a').proposeConfChange({ type: 'addVoter', node: 'd' }));
});

t.test('removing a voter shrinks the quorum', async (t) => {
  const c = new TestCluster(['a', 'b', 'c', 'd']);
  c.elect('a');
  conf(c, 'a', { type: 'removeNode', node: 'd' });
  c.tick(['a'], 1);
  t.same(c.get('a').confState().voters, ['a', 'b', 'c']);
  c.isolate('c');
  c.isolate('d');
  c.propose('a', 'two-of-three');
  t.equal(c.appliedData('b').at(-1), 'two-of-three', 'a and b suffice now');
});

t.test('a leader that removes itself leads until the change commits, then hands over', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  conf(c, 'a', { type: 'removeNode', node: 'a' });
  c.tick(['a', 'b', 'c'], 2);
  t.equal(c.get('a').status.role, 'follower', 'a stepped down');
  t.ok(c.get('a').metrics.messagesOut > 0);
  c.tick(['b', 'c'], 5);
  const leaders = c.leaders();
  t.equal(leaders.length, 1);
  t.not(leaders[0], 'a');
  t.same(c.get(leaders[0]!).confState().voters, ['b', 'c']);
});

t.test('one change at a time, and only after the leader committed in its term', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.filter = (m) => m.type === 'appendResp';
  c.addNode('d');
  c.get('a').proposeConfChange({ type: 'addLearner', node: 'd' });
  t.throws(() => c.get('a').proposeConfChange({ type: 'addLearner', node: 'e' }), { code: 'CONF_CHANGE_PENDING' });
  c.filter = () => false;
  c.pump();
  c.tick(['a'], 1);
  t.doesNotThrow(() => c.get('a').proposeConfChange({ type: 'addLearner', node: 'e' }), 'allowed once committed');

  const c2 = new TestCluster(['a', 'b', 'c']);
  c2.filter = (m) => m.type === 'appendResp';
  c2.elect('a');
  t.throws(() => c2.get('a').proposeConfChange({ type: 'addLearner', node: 'd' }), { code: 'CONF_CHANGE_PENDING' }, 'noop of the term not committed yet');
});

t.test('nonsensical changes are refused with INVALID_CONF_CHANGE; followers answer NOT_LEADER', async (t) => {
  const c = new TestCluster(['a']);
  c.elect('a');
  const a = c.get('a');
  t.throws(() => a.proposeConfChange({ type: 'removeNode', node: 'a' }), { code: 'INVALID_CONF_CHANGE' });
  t.throws(() => a.proposeConfChange({ type: 'addVoter', node: 'a' }), { code: 'INVALID_CONF_CHANGE' });
  t.throws(() => a.proposeConfChange({ type: 'removeNode', node: 'zz' }), { code: 'INVALID_CONF_CHANGE' });
  const c3 = new TestCluster(['a', 'b', 'c']);
  c3.elect('a');
  const err = (() => {
    try {
      c3.get('b').proposeConfChange({ type: 'addLearner', node: 'd' });
    } catch (e) {
      return e;
    }
    return null;
  })();
  t.ok(err instanceof RaftError);
  t.match(err, { code: 'NOT_LEADER', leaderId: 'a' });
});

t.test('a configuration takes effect on append and reverts if its entry is truncated', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { checkQuorum: false });
  c.pump();
  const b = c.get('b');
  const change = encodeConfChange({ type: 'addLearner', node: 'x' });
  b.step({ type: 'append', from: 'a', to: 'b', term: 2, prevIndex: 3, prevTerm: 1, entries: [{ term: 2, index: 4, type: 'conf', data: change }], commit: 3 });
  t.same(b.confState(), { voters: ['a', 'b', 'c'], learners: ['x'] }, 'in effect before it commits');
  b.step({ type: 'append', from: 'c', to: 'b', term: 3, prevIndex: 3, prevTerm: 1, entries: [{ term: 3, index: 4, type: 'noop', data: new Uint8Array(0) }], commit: 3 });
  t.same(b.confState(), { voters: ['a', 'b', 'c'], learners: [] }, 'back to the previous configuration');
});

t.test('conf change encoding round-trips and rejects junk', async (t) => {
  const cc = { type: 'addVoter' as const, node: 'node-ü', ctx: enc('tag') };
  t.same(decodeConfChange(encodeConfChange(cc)), cc);
  t.equal(decodeConfChange(new Uint8Array([9, 9, 9])), null);
  t.equal(decodeConfChange(new Uint8Array([1, 7, 0, 1, 65])), null);
});
