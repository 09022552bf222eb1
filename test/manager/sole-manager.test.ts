/**
 * The "sole manager" grants of a one-voter cluster (manager/lease/sole-manager.ts)
 * and what a supervisor does with them (worker/supervisor/lease.ts, fenceHeldOff):
 * which grants say "sole", that a voter addition stops them and waits until
 * every one has run out and the daemon's grace has passed, and that an expired
 * lease holds its tasks only while the sole manager's process is dead or within
 * the grace of its return. test/worker/sole-manager-restart.test.ts runs it for real.
 */
import t from 'tap';
import { SoleManagerGrants } from '../../src/manager/lease/sole-manager.js';
import { LeaseCore } from '../../src/manager/lease/core.js';
import { DEFAULT_LEASE_OPTIONS } from '../../src/manager/lease/options.js';
import { fenceHeldOff, NodeLease } from '../../src/worker/supervisor/lease.js';

const F = 1_000;
const MARGIN = 100;
const base = { leader: true, self: 'm1', voters: ['m1'], node: 'm1', tasks: true };

t.test('only the leader of a one-voter configuration, to its own node holding tasks, says sole', async (t) => {
  const g = new SoleManagerGrants({ fenceMs: F, marginMs: MARGIN });
  t.equal(g.grant(10, base), true, 'its own node, holding tasks');
  t.equal(g.grant(10, { ...base, tasks: false }), false, 'a supervisor without tasks: nothing to hold');
  t.equal(g.grant(10, { ...base, node: 'w1' }), false, 'another node: it may be cut off from a manager that is alive');
  t.equal(g.grant(10, { ...base, leader: false }), false, 'not the leader');
  t.equal(g.grant(10, { ...base, voters: ['m1', 'm2'] }), false, 'two voters');
  t.equal(g.grant(10, { ...base, voters: ['m2'] }), false, 'a configuration without this manager');
});

t.test('a voter addition stops sole grants and waits until the last one and the grace have run out', async (t) => {
  const g = new SoleManagerGrants({ fenceMs: F, marginMs: MARGIN });
  t.equal(g.readyAt(), Number.POSITIVE_INFINITY, 'before the daemon configured its supervisor: never (an unknown grace is not taken for none)');
  t.equal(g.ownHoldUntil, Number.POSITIVE_INFINITY, 'nor is its own node declared down');
  const readyAt = (graceUntil: number) => (g.handedOff(graceUntil), g.readyAt());
  t.equal(readyAt(0), Number.NEGATIVE_INFINITY, 'no sole grant, no grace: no wait');
  t.equal(readyAt(5_000), 5_000 + MARGIN, 'the grace the supervisor gave this daemon, plus the margin');
  t.equal(g.ownHoldUntil, 5_000 + MARGIN, 'and its own node is held as long');
  g.grant(2_000, base);
  g.grant(3_000, base);
  const growing = g.begin();
  t.equal(g.grant(3_100, base), false, 'no sole grant while a voter is being added');
  t.equal(readyAt(0), 3_000 + F + MARGIN, 'the last sole grant + F + margin');
  t.equal(readyAt(4_500), 4_500 + MARGIN, 'or the grace, when later');
  const second = g.begin();
  growing.end();
  growing.end();
  t.equal(g.grant(3_200, base), false, 'still none while another addition is under way (end() counts once)');
  second.end();
  t.equal(g.grant(3_300, base), true, 'sole grants again once no addition is under way');
  t.equal(readyAt(0), 3_300 + F + MARGIN);
});

t.test("a supervisor holds its tasks through an expired lease only on its dead sole manager's word", async (t) => {
  const lease = new NodeLease();
  const sole = { marginMs: MARGIN };
  lease.granted(100, F, sole);
  t.equal(lease.lastGrantSole, true);
  lease.granted(50, F, null);
  t.equal(lease.lastGrantSole, true, 'an older grant answered late does not change what the newest said');
  const deadline = lease.until; // 1100
  const deadAt = (diedBy: number) => ({ alive: false, graceUntil: 0, diedBy });
  const alive = { alive: true, graceUntil: 0, diedBy: null };
  t.equal(fenceHeldOff(lease, deadAt(500), deadline + 5_000, false), true, 'dead long before the deadline (a late look): no leader can exist, the tasks run on');
  t.equal(fenceHeldOff(lease, deadAt(deadline + 10), deadline + 10, false), true, 'found dead at the deadline');
  t.equal(fenceHeldOff(lease, deadAt(deadline + MARGIN), deadline + MARGIN, false), false, 'first found dead later than half the margin: it may have been alive when it could decide; fenced');
  t.equal(fenceHeldOff(lease, deadAt(deadline + MARGIN), deadline + 60_000, true), true, 'a hold-off begun in time goes on');
  t.equal(fenceHeldOff(lease, alive, deadline + 10, false), false, 'alive but silent (stopped, stalled, cut off): fenced');
  t.equal(fenceHeldOff(lease, null, deadline + 10, false), false, 'no daemon known: fenced');
  t.equal(fenceHeldOff(lease, { alive: true, graceUntil: 6_000, diedBy: null }, 5_000, true), true, 'a daemon that came back, within its grace');
  t.equal(fenceHeldOff(lease, { alive: true, graceUntil: 6_000, diedBy: null }, 6_000, true), false, 'the grace is over: fenced');
  lease.granted(200, F, null);
  t.equal(lease.lastGrantSole, false, 'a newer plain grant');
  t.equal(fenceHeldOff(lease, deadAt(500), lease.until + 10, false), false, 'a plain grant holds nothing: another manager may replace the tasks');
});

t.test('the leader does not declare a node down before its holdUntil (its own node, during a grace)', async (t) => {
  const o = { ...DEFAULT_LEASE_OPTIONS, fenceMs: F, marginMs: MARGIN, renewEveryMs: 200 };
  const L = new LeaseCore(o);
  L.becomeLeader(2, 0);
  L.setAuthority(Infinity);
  t.same(L.renew('m1', 'up', 10), { granted: true });
  const at = (now: number, holdUntil?: number) => L.tick(now, { nodes: [{ id: 'm1', standing: 'up', agent: false, ...(holdUntil !== undefined ? { holdUntil } : {}) }], peers: [] });
  t.same(at(2_000, Infinity).revoked.map((r) => r.node), ['m1'], 'silent and agent-less: revoked');
  t.same(at(5_000, Infinity).down, [], 'past its deadline, but held: not down (its daemon has not configured its supervisor yet)');
  t.same(at(5_000, 6_000).down, [], 'held until 6000');
  t.same(at(6_000, 6_000).down.map((d) => d.node), ['m1'], 'down once the hold is over');
});
