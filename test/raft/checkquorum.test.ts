import t from 'tap';
import { TestCluster } from './helpers.js';

t.test('CheckQuorum: an isolated leader steps down within two election timeouts', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { checkQuorum: true });
  c.elect('a');
  c.isolate('a');
  let ticks = 0;
  while (c.get('a').status.role === 'leader' && ticks < 100) {
    c.tick(['a']);
    ticks++;
  }
  t.equal(c.get('a').status.role, 'follower');
  t.ok(ticks <= 20, `stepped down after ${ticks} ticks`);
  t.equal(c.get('a').metrics.checkQuorumStepDowns, 1);
});

t.test('without CheckQuorum an isolated leader keeps believing it leads', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { checkQuorum: false });
  c.elect('a');
  c.isolate('a');
  c.tick(['a'], 100);
  t.equal(c.get('a').status.role, 'leader');
});

t.test('a leader hearing from a quorum stays, even with one follower gone', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { checkQuorum: true });
  c.elect('a');
  c.isolate('c');
  c.tick(['a', 'b'], 100);
  t.equal(c.get('a').status.role, 'leader');
});

t.test('leader lease: followers that hear from a leader drop vote requests', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { checkQuorum: true, preVote: false });
  c.elect('a');
  const b = c.get('b');
  const term = b.status.term;
  b.step({ type: 'vote', from: 'c', to: 'b', term: term + 5, pre: false, lastIndex: 100, lastTerm: term, transfer: false });
  t.equal(b.status.term, term, 'term unchanged');
  t.equal(b.metrics.dropped.inLease, 1);
  t.equal(b.hasReady(), false, 'no answer');
  // Once the lease has expired (no heartbeats for an election timeout), it listens.
  c.isolate('b');
  c.tick(['b'], 10);
  b.step({ type: 'vote', from: 'c', to: 'b', term: term + 5, pre: false, lastIndex: 100, lastTerm: term, transfer: false });
  t.equal(b.status.term, term + 5);
});
