import t from 'tap';
import { RaftError } from '../../src/raft/errors.js';
import { enc, TestCluster } from './helpers.js';

t.test('the leader refuses proposals beyond maxUncommittedBytes with UNCOMMITTED_CAP', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { maxUncommittedBytes: 100 });
  c.elect('a');
  c.isolate('a'); // nothing commits
  const a = c.get('a');
  let accepted = 0;
  let err: unknown = null;
  for (let i = 0; i < 20; i++) {
    try {
      a.propose(new Uint8Array(30));
      accepted++;
    } catch (e) {
      err = e;
      break;
    }
  }
  t.equal(accepted, 3, '3 x 30 bytes fit in 100, the 4th does not');
  t.ok(err instanceof RaftError);
  t.match(err, { code: 'UNCOMMITTED_CAP' });
  t.equal(a.metrics.proposalsRefused, 1);
  // Forwarded proposals over the cap are dropped and counted.
  a.step({ type: 'propose', from: 'b', to: 'a', term: a.status.term, entries: [new Uint8Array(30)] });
  t.equal(a.metrics.dropped.proposal, 1);
  // Once the backlog commits, proposals are accepted again.
  c.heal();
  c.tick(['a'], 2);
  t.equal(a.status.uncommittedBytes, 0);
  t.doesNotThrow(() => a.propose(new Uint8Array(30)));
});

t.test('a single proposal larger than the cap is accepted when nothing is pending', async (t) => {
  const c = new TestCluster(['a'], { maxUncommittedBytes: 10 });
  c.elect('a');
  t.doesNotThrow(() => c.get('a').propose(new Uint8Array(50)));
  t.throws(() => c.get('a').propose(enc('x')), { code: 'UNCOMMITTED_CAP' });
});
