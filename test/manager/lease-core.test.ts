/**
 * The fencing lease's pure core (src/manager/lease/core.ts), scenario by
 * scenario: who may grant, how a follower's token works, what a revocation
 * waits for, and takeovers. The seeded simulation (lease-sim.test.ts) checks
 * the same safety rule under random faults.
 */
import t from 'tap';
import { LeaseCore } from '../../src/manager/lease/core.js';
import { DEFAULT_LEASE_OPTIONS } from '../../src/manager/lease/options.js';

// The scenarios' times assume these values (pinned: the defaults may change).
const o = { ...DEFAULT_LEASE_OPTIONS, fenceMs: 1000, marginMs: 250, renewEveryMs: 200, tokenMs: 3000 };
const up = (id: string, agent = false) => ({ id, standing: 'up' as const, agent });

function pair(now = 0) {
  const L = new LeaseCore(o);
  const f = new LeaseCore(o);
  L.becomeLeader(3, now);
  L.setAuthority(Infinity);
  f.becomeFollower();
  return { L, f };
}

t.test('who may grant: a leader with authority, a follower with a token', async (t) => {
  const { L, f } = pair();
  t.same(L.renew('n1', 'up', 10), { granted: true });
  L.setAuthority(50);
  t.match(L.renew('n1', 'up', 60), { granted: false, reason: /cannot confirm it still leads/ });
  t.match(f.renew('n1', 'up', 10), { granted: false, reason: /not heard from a leader/ });
  L.setAuthority(Infinity);
  const ack = L.onReport(f.report('f', 100), 110)!;
  f.onAck(100, ack);
  t.same(f.renew('n1', 'up', 200), { granted: true }, 'token from the ack');
  t.match(f.renew('n1', 'up', 100 + o.tokenMs), { granted: false }, 'the token ends tokenMs after the report was sent');
  t.match(L.renew('n9', 'unknown', 10), { granted: false, reason: /not part of this cluster/ });
  t.match(L.renew('n1', 'down', 10), { granted: false, reason: /down/ });
});

t.test("a revoked node is declared down only after every grant it could hold has run out", async (t) => {
  const { L, f } = pair();
  // The follower hears n1 until t=1000; its last acknowledged report went out at t=900.
  f.onAck(0, L.onReport(f.report('f', 0), 0)!);
  t.same(f.renew('n1', 'up', 1000), { granted: true });
  f.onAck(900, L.onReport(f.report('f', 900), 900)!);
  // Then the follower is cut off from the leader, and keeps granting n1 on its token.
  t.same(f.renew('n1', 'up', 2000), { granted: true });
  // The leader never heard n1 itself; follower-reported contact: 900 - 100 = 800 at the latest... 1000 was after the report.
  const out = L.tick(1_500, { nodes: [up('n1')], peers: ['f'] });
  t.same(out.revoked.map((r) => r.node), ['n1'], 'silent (F - 2R) and no agent: revoked');
  // The follower has not confirmed the revocation: it may grant until its last ack (900) + H.
  t.equal(L.downAt('n1', ['f']), 900 + o.tokenMs + o.fenceMs + o.marginMs);
  t.same(L.tick(3_000, { nodes: [up('n1')], peers: ['f'] }).down, [], 'not before that');
  // Once the follower confirms (its next report after applying the list), only real contacts count.
  const ack = L.onReport(f.report('f', 3_100), 3_100)!;
  t.same(ack.revoked, ['n1']);
  f.onAck(3_100, ack);
  t.match(f.renew('n1', 'up', 3_150), { granted: false, reason: /revoked/ }, 'the follower stops granting');
  const report = f.report('f', 3_200);
  t.ok(report.contacts.some((c) => c.node === 'n1'), 'and reports the grant it made at 2000');
  L.onReport(report, 3_200);
  t.equal(L.downAt('n1', ['f']), 2_000 + o.fenceMs + o.marginMs, 'deadline: the last grant (2000) + F + margin');
  t.same(L.tick(3_300, { nodes: [up('n1')], peers: ['f'] }).down.map((d) => d.node), ['n1']);
});

t.test('a connected agent means the node is alive: its silence revokes nothing', async (t) => {
  const { L } = pair();
  t.same(L.tick(5_000, { nodes: [up('n1', true)], peers: [] }).revoked, []);
  t.same(L.tick(5_000, { nodes: [{ id: 'n2', standing: 'new', agent: false }], peers: [] }).revoked, [], 'never registered: not judged');
});

t.test('registration restarts the silence clock; an undecided revocation is lifted, a decided one is not', async (t) => {
  const { L } = pair();
  L.registered('n1', 900);
  t.same(L.tick(1_000, { nodes: [up('n1')], peers: [] }).revoked, [], 'registered at 900: not silent yet');
  t.same(L.tick(1_600, { nodes: [up('n1')], peers: [] }).revoked.length, 1);
  t.ok(L.lift('n1'), 'agent back before any decision: lifted');
  t.notOk(L.isRevoked('n1'));
  L.revoke('n1', 'test', 2_000);
  const out = L.tick(10_000, { nodes: [up('n1')], peers: [] });
  t.same(out.down.map((d) => d.node), ['n1']);
  t.notOk(L.lift('n1'), 'decided: stays until the node registers after the down commit');
  t.same(L.tick(10_100, { nodes: [up('n1')], peers: [] }).down.map((d) => d.node), ['n1'], 'repeated while the store still says up (retry)');
  L.clear('n1');
  t.notOk(L.isRevoked('n1'));
});

t.test("a new leader waits out its predecessor's grants and unconfirmed followers' tokens", async (t) => {
  const L2 = new LeaseCore(o);
  L2.becomeLeader(4, 10_000);
  L2.setAuthority(Infinity);
  L2.revoke('n1', 'test', 10_000);
  // No follower has reported to this leader: any of them may hold a token from the last one, until takeover + H.
  t.equal(L2.downAt('n1', ['m1', 'm2']), 10_000 + o.tokenMs + o.fenceMs + o.marginMs);
  t.equal(L2.downAt('n1', []), 10_000 + o.fenceMs + o.marginMs, 'alone: its own takeover bounds the old grants');
});
