import t from 'tap';
import { RaftError } from '../../src/raft/errors.js';
import type { ProposeMsg, ProposeRefusedMsg } from '../../src/raft/interface.js';
import { dec, enc, TestCluster } from './helpers.js';
import { TestCluster as DriverCluster, type Member } from './driver-cluster.js';
import { waitFor } from '../helpers/wait.js';

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

/** a leads, b and c follow; appendResps are dropped so nothing a appends commits. */
function stalled(cap: number): TestCluster {
  const c = new TestCluster(['a', 'b', 'c'], { maxUncommittedBytes: cap });
  c.elect('a');
  c.pump();
  c.filter = (m) => m.type === 'appendResp';
  return c;
}

t.test('a forwarded proposal over the cap: the leader refuses it, appends nothing, and tells the follower which one', async (t) => {
  const c = stalled(100);
  const a = c.get('a');
  for (let i = 0; i < 3; i++) a.propose(new Uint8Array(30));
  const lastBefore = a.status.lastIndex;
  c.clearSent();
  t.same(c.get('b').propose(enc('over the cap'), enc('ref-1')), { forwarded: true, to: 'a' });
  c.get('b').propose(enc('no ref'));
  c.get('b').propose(enc('also over'), enc('ref-2'));
  c.pump();
  const fw = c.sent.filter((m): m is ProposeMsg => m.type === 'propose');
  t.equal(fw.length, 1, 'one forwarded batch');
  t.same(fw[0]!.refs?.map(dec), ['ref-1', '', 'ref-2'], 'refs travel next to the entries');
  const back = c.sent.filter((m): m is ProposeRefusedMsg => m.type === 'proposeRefused');
  t.equal(back.length, 1, 'one refusal back to the sender');
  t.match(back[0], { from: 'a', to: 'b', code: 'UNCOMMITTED_CAP' });
  t.same(back[0]!.refs.map(dec), ['ref-1', 'ref-2'], 'only the refs, no payloads; entries without a ref are not named');
  t.match(back[0]!.reason, /cap of 100 bytes/);
  t.equal(a.status.lastIndex, lastBefore, 'nothing appended');
  t.equal(a.metrics.dropped.proposal, 3);
  const refused = c.node('b').refused;
  t.equal(refused.length, 1);
  t.match(refused[0], { leader: 'a', code: 'UNCOMMITTED_CAP' });
  t.same(refused[0]!.refs.map(dec), ['ref-1', 'ref-2']);
  // The backlog commits; the refused proposals never do.
  c.filter = () => false;
  c.tick(['a'], 3);
  t.equal(a.status.uncommittedBytes, 0);
  for (const id of ['a', 'b', 'c']) t.notOk(c.appliedData(id).some((d) => /over|no ref/.test(d)), `${id} never applied a refused proposal`);
  // Below the cap again: forwarding works as before.
  c.get('b').propose(enc('fits now'), enc('ref-3'));
  c.pump();
  t.ok(c.appliedData('c').includes('fits now'));
  t.equal(c.node('b').refused.length, 1, 'no new refusal');
});

t.test('a forwarded proposal during a leadership transfer is refused with PROPOSAL_DROPPED', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.isolate('c');
  c.propose('a', 'x'); // c is behind: the transfer cannot finish
  c.get('a').transferLeadership('c');
  c.get('b').propose(enc('during transfer'), enc('ref-t'));
  c.pump();
  t.equal(c.node('b').refused.length, 1);
  t.match(c.node('b').refused[0], { leader: 'a', code: 'PROPOSAL_DROPPED', reason: /transfer to c/ });
  t.same(c.node('b').refused[0]!.refs.map(dec), ['ref-t']);
  t.notOk(c.appliedData('a').includes('during transfer'));
});

t.test('a forward that reaches a node which no longer leads is refused with NOT_LEADER, naming the leader it knows', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.block('b', 'a'); // the forward is recorded, not delivered
  c.clearSent();
  c.get('b').propose(enc('late forward'), enc('ref-nl'));
  c.pump();
  const fw = c.sent.find((m): m is ProposeMsg => m.type === 'propose')!;
  t.ok(fw, 'b forwarded its proposal');
  c.unblock('b', 'a');
  c.get('c').step({ ...fw, to: 'c' }); // as if c had led when b forwarded
  c.pump();
  t.equal(c.node('b').refused.length, 1, 'b hears of the refusal');
  t.match(c.node('b').refused[0], { leader: 'c', code: 'NOT_LEADER', reason: /the leader is a/ });
  t.same(c.node('b').refused[0]!.refs.map(dec), ['ref-nl']);
  t.notOk(c.appliedData('a').includes('late forward'), 'and nothing of it was appended anywhere');
});

t.test('a duplicated forward whose first copy was appended is not reported refused', async (t) => {
  const c = stalled(100);
  const a = c.get('a');
  c.clearSent();
  c.get('b').propose(new Uint8Array(60), enc('ref-dup'));
  c.pump();
  const fw = c.sent.find((m): m is ProposeMsg => m.type === 'propose')!;
  t.equal(a.metrics.proposalsAppended, 1, 'first copy appended');
  a.propose(new Uint8Array(30)); // the cap is now reached
  c.clearSent();
  a.step(fw); // the network delivers the forward again
  c.pump();
  t.equal(a.metrics.dropped.proposal, 1, 'the copy is dropped');
  t.equal(c.sent.filter((m) => m.type === 'proposeRefused').length, 0, 'but not reported refused: the original may commit');
  t.equal(c.node('b').refused.length, 0);
});

t.test('a refusal is accepted only in the current term, from a member, and never by a leader', async (t) => {
  const c = new TestCluster(['a', 'b', 'c']);
  c.elect('a');
  c.pump();
  const term = c.get('b').status.term;
  const msg = (over: Partial<ProposeRefusedMsg>): ProposeRefusedMsg => ({
    type: 'proposeRefused',
    from: 'a',
    to: 'b',
    term,
    code: 'UNCOMMITTED_CAP',
    reason: 'r',
    refs: [enc('x')],
    ...over,
  });
  const unexpected = c.get('a').metrics.dropped.unexpected;
  c.get('b').step(msg({ term: term - 1 }));
  c.get('b').step(msg({ from: 'mallory' }));
  c.get('a').step(msg({ from: 'b', to: 'a' }));
  c.pump();
  t.equal(c.get('b').metrics.dropped.staleTerm, 1);
  t.equal(c.get('b').metrics.dropped.unknownPeer, 1);
  t.equal(c.get('a').metrics.dropped.unexpected, unexpected + 1);
  t.equal(c.node('b').refused.length, 0);
  t.equal(c.node('a').refused.length, 0);
});

t.test('real drivers: a proposal made on a follower that the leader cannot take rejects at once with UNCOMMITTED_CAP', async (t) => {
  const ids = ['m1', 'm2', 'm3'];
  const requestTimeoutMs = 10_000;
  const c = new DriverCluster({ maxUncommittedBytes: 1000 });
  t.teardown(() => c.close());
  await c.reservePorts(ids);
  for (const id of ids) await c.start(id, { founding: ids, peers: ids, driver: { requestTimeoutMs } });
  const leader = await c.leader();
  const [f, g] = [...c.members.values()].filter((m) => m !== leader) as [Member, Member];
  await waitFor(() => f.driver.status().leader === leader.id, { what: 'the follower knows the leader' });
  t.equal(await c.put(f, 'warm', 'up'), 'up', 'forwarding works (and the link to the leader is up)');
  // With g cut off, only f's ack commits the leader's backlog, and f's
  // forward travels to the leader ahead of that ack on the same connection:
  // the forward always finds the cap reached.
  c.faults.isolate(g.id);
  const big = c.put(leader, 'big', 'x'.repeat(5_000)); // admitted: the backlog was empty
  const t0 = Date.now();
  const err = await c.put(f, 'refused', 'y').then(
    () => null,
    (e: unknown) => e,
  );
  const took = Date.now() - t0;
  t.ok(err instanceof RaftError, `a RaftError, not a driver timeout (${String(err)})`);
  t.match(err, { code: 'UNCOMMITTED_CAP', leaderId: leader.id, message: /^UNCOMMITTED_CAP: leader m\d refused the proposal: .*cap of 1000 bytes/ });
  t.ok(took < requestTimeoutMs / 5, `rejected in ${took} ms, well before the ${requestTimeoutMs} ms timeout`);
  t.equal(f.driver.metrics.proposalsRefused, 1);
  t.equal(f.driver.metrics.proposalTimeouts, 0);
  t.equal((await big) as string, 'x'.repeat(5_000), 'the backlog commits (f acks it)');
  c.faults.heal();
  t.equal(await c.put(f, 'after', 'ok'), 'ok', 'below the cap, forwarded proposals commit again');
  await waitFor(() => [...c.members.values()].every((m) => m.sm.get('after') === 'ok'), { what: 'every node applied "after"' });
  for (const m of c.members.values()) t.equal(m.sm.get('refused'), undefined, `${m.id} never applied the refused proposal`);
});
