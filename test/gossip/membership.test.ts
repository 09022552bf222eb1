/**
 * Membership lifecycle: graceful leave, crash detection, rejoin with a
 * higher incarnation, push-pull (anti-entropy) merges, metadata updates.
 */
import t from 'tap';
import { GossipCore } from '../../src/gossip/core.js';
import type { MemberRecord, PushPullState } from '../../src/gossip/interface.js';
import { seededRng } from '../../src/util/rng.js';
import { MiniNet, META, addrOf } from './sim/mini.js';

const five = ['a', 'b', 'c', 'd', 'e'];

t.test('graceful leave: everyone sees left, nobody probes it, it does not refute', async (t) => {
  const net = new MiniNet(five);
  net.run(500);
  net.core('b').leave();
  net.flush();
  t.ok(net.runUntil(() => ['a', 'c', 'd', 'e'].every((v) => net.stateOf(v, 'b') === 'left'), 2_000), 'everyone has b left');
  for (const v of ['a', 'c', 'd', 'e']) t.equal(net.eventsOf(v, 'left', 'b').length, 1, `${v} got one left event`);
  t.ok(net.runUntil(() => net.core('b').leaveBroadcastDone(), 5_000), 'leave broadcast finished');
  const t0 = net.now;
  net.run(3_000);
  t.notOk(net.sent.some((s) => s.at > t0 && s.to === 'b' && s.msgs[0]?.type === 'ping'), 'no pings to a member that left');
  t.equal(net.eventsOf('a', 'dead', 'b').length, 0, 'never declared dead');
  t.throws(() => net.core('b').broadcast(new Uint8Array(1)), { code: 'LEFT' });
  t.equal(net.core('b').numActive(), 4, 'the leaver keeps its view but is not active itself');
});

t.test('crash: detected by everyone, then a restart rejoins above the dead incarnation', async (t) => {
  const net = new MiniNet(five);
  net.run(500);
  net.crash('c');
  t.ok(net.runUntil(() => ['a', 'b', 'd', 'e'].every((v) => net.stateOf(v, 'c') === 'dead'), 15_000), 'everyone has c dead');
  const deadInc = net.core('a').member('c')!.incarnation;
  t.ok(net.eventsOf('a', 'dead', 'c').length + net.eventsOf('b', 'dead', 'c').length >= 2);
  // A fresh process with the same id starts at incarnation 1 and joins through a.
  const c2 = net.add('c', 1);
  c2.join([addrOf('a')]);
  net.flush();
  t.ok(net.runUntil(() => ['a', 'b', 'd', 'e'].every((v) => net.stateOf(v, 'c') === 'alive'), 5_000), 'everyone has c alive again');
  t.ok(c2.incarnation() > deadInc, `refuted above the dead incarnation (${c2.incarnation()} > ${deadInc})`);
  t.equal(net.eventsOf('d', 'joined', 'c').length, 2, 'd saw c join at boot and join again after its death');
  t.equal(c2.members().filter((m) => m.state === 'alive').length, 5, 'c learnt the whole cluster from the push-pull');
});

t.test('join: members meet through one seed', async (t) => {
  const net = new MiniNet(five, {}, 3, false);
  for (const id of five.slice(1)) net.core(id).join([addrOf('a')]);
  net.flush();
  t.ok(net.runUntil(() => five.every((v) => net.core(v).numActive() === 5), 5_000), 'everyone knows everyone');
  t.match(net.eventsOf('e', 'joined', 'b')[0], { member: { id: 'b', role: 'worker', meta: META, state: 'alive' } });
});

t.test('a join that reached no seed is tried again (joinRetryMs) until a member is known, then no more', async (t) => {
  const net = new MiniNet(['a', 'b'], {}, 3, false);
  net.crash('a');
  const b = net.core('b');
  b.join([addrOf('a')]);
  net.flush();
  net.run(1_000);
  t.equal(b.numActive(), 1, 'the seed is down: b knows no one');
  const a = net.add('a');
  t.ok(net.runUntil(() => b.numActive() === 2 && a.numActive() === 2, 30_000), 'once the seed is up, b joins it without being told again');
  t.ok(b.metrics.joinRetries >= 1, `b tried the seed again (${b.metrics.joinRetries} time(s))`);
  const retries = b.metrics.joinRetries;
  net.run(60_000);
  t.equal(b.metrics.joinRetries, retries, 'no retries once it knows a live member');
});

function lone(id: string, members: MemberRecord[] = []): GossipCore {
  const c = new GossipCore({
    self: { id, addr: addrOf(id), clusterAddr: addrOf(id), role: 'manager', meta: META },
    rng: seededRng(id.charCodeAt(0)),
    nowMs: 0,
  });
  c.restoreMembers(members);
  c.ready();
  return c;
}

const rec = (id: string, state: MemberRecord['state'], incarnation: number): MemberRecord => ({
  id,
  addr: addrOf(id),
  clusterAddr: addrOf(id),
  role: 'worker',
  meta: META,
  state,
  incarnation,
  stateChangeMs: 0,
});

t.test('push-pull merge: new members join, remote dead becomes a local suspicion, left is final, stale is ignored', async (t) => {
  const a = lone('a', [rec('c', 'alive', 3), rec('f', 'alive', 5)]);
  const b = lone('b', [rec('c', 'dead', 3), rec('d', 'left', 2), rec('e', 'alive', 1), rec('f', 'alive', 4)]);
  const reply = b.handlePushPull(a.localState());
  t.equal(b.member('a')?.state, 'alive', 'b learnt a');
  t.equal(b.member('f')?.incarnation, 5, 'newer incarnation wins');
  a.mergeRemoteState(reply);
  t.equal(a.member('b')?.state, 'alive');
  t.equal(a.member('e')?.state, 'alive');
  t.equal(a.member('c')?.state, 'suspect', 'remote "dead" is only a suspicion here: c may refute');
  t.equal(a.member('d'), undefined, 'a left member we never knew is not added');
  t.equal(a.member('f')?.incarnation, 5, 'stale remote alive ignored');
  const ev = a.ready().events;
  t.ok(ev.some((e) => e.type === 'joined' && e.member.id === 'e'));
  t.ok(ev.some((e) => e.type === 'suspect' && e.member.id === 'c' && e.from === 'b'));
  const bad = { ...a.localState(), members: [{ id: 'x' }] } as unknown as PushPullState;
  t.throws(() => a.mergeRemoteState(bad), { code: 'INVALID_STATE' });
});

t.test('push-pull about ourselves: a remote dead or left claim is refuted', async (t) => {
  const a = lone('a');
  a.tick(1);
  const inc = a.incarnation();
  a.mergeRemoteState({ type: 'pushPull', from: 'z', join: false, members: [{ ...rec('a', 'dead', inc + 4), inc: inc + 4 }] });
  t.equal(a.incarnation(), inc + 5);
  a.mergeRemoteState({ type: 'pushPull', from: 'z', join: false, members: [{ ...rec('a', 'left', inc + 5), inc: inc + 5 }] });
  t.equal(a.incarnation(), inc + 6);
});

t.test('partition heals through reconnect push-pulls', async (t) => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const net = new MiniNet(ids, { reconnectIntervalMs: 2_000 });
  const side = (id: string): number => (['a', 'b', 'c'].includes(id) ? 0 : 1);
  net.run(200);
  net.drop = (p) => side(p.from) !== side(p.to);
  const pp = net.pushPull.bind(net);
  let cut = true;
  net.pushPull = (from, to, st) => (cut && side(from) !== side(to) ? false : pp(from, to, st));
  t.ok(net.runUntil(() => net.stateOf('a', 'd') === 'dead' && net.stateOf('d', 'a') === 'dead', 30_000), 'each side declares the other dead');
  cut = false;
  net.drop = () => false;
  t.ok(
    net.runUntil(() => ids.every((v) => ids.every((w) => net.stateOf(v, w) === 'alive')), 30_000),
    'after healing every member sees every member alive',
  );
});

t.test('metadata update bumps the incarnation and reaches everyone', async (t) => {
  const net = new MiniNet(['a', 'b', 'c']);
  net.run(100);
  const inc = net.core('a').incarnation();
  const meta = { resources: { nanoCpus: 8_000_000_000, memoryBytes: 1 << 33 }, labels: { zone: 'b', disk: 'ssd' } };
  net.core('a').updateMeta(meta);
  net.flush();
  t.equal(net.core('a').incarnation(), inc + 1);
  t.ok(net.runUntil(() => net.core('c').member('a')?.meta.labels.disk === 'ssd', 2_000));
  t.match(net.eventsOf('c', 'updated', 'a')[0], { member: { incarnation: inc + 1, meta } });
  const huge = { resources: meta.resources, labels: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, 'v'.repeat(20)])) };
  t.throws(() => net.core('a').updateMeta(huge), { code: 'META_TOO_LARGE' });
});

t.test('a role change bumps the incarnation and reaches everyone', async (t) => {
  const net = new MiniNet(['a', 'b', 'c']);
  net.run(100);
  const inc = net.core('a').incarnation();
  t.equal(net.core('c').member('a')?.role, 'worker', 'a starts as a worker');
  net.core('a').updateRole('manager');
  net.flush();
  t.equal(net.core('a').incarnation(), inc + 1);
  t.ok(net.runUntil(() => net.core('c').member('a')?.role === 'manager', 2_000), 'c sees the promotion');
  t.match(net.eventsOf('b', 'updated', 'a')[0], { member: { incarnation: inc + 1, role: 'manager' } });
  net.core('a').updateRole('manager');
  t.equal(net.core('a').incarnation(), inc + 1, 'announcing the same role again changes nothing');
});
