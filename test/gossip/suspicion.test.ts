/**
 * Suspicion and refutation, Lifeguard's dynamic suspicion timeout (part 2)
 * and the buddy system (part 3).
 */
import t from 'tap';
import { Suspicion, timeoutAfter } from '../../src/gossip/suspicion.js';
import { suspicionConfirmationsWanted, suspicionMaxMs, suspicionMinMs, LAN } from '../../src/gossip/options.js';
import { GossipCore } from '../../src/gossip/core.js';
import { seededRng } from '../../src/util/rng.js';
import type { AliveMsg, GossipEvent, MemberRecord, SuspectMsg } from '../../src/gossip/interface.js';
import type { GossipOptions } from '../../src/gossip/options.js';
import { MiniNet, META, addrOf } from './sim/mini.js';

t.test('timeout formula: max without confirmations, log decay, min after k', async (t) => {
  t.equal(timeoutAfter(0, 2, 1000, 6000), 6000);
  t.equal(timeoutAfter(1, 2, 1000, 6000), Math.floor(6000 - (Math.log(2) / Math.log(3)) * 5000));
  t.equal(timeoutAfter(2, 2, 1000, 6000), 1000);
  t.equal(timeoutAfter(5, 2, 1000, 6000), 1000, 'never below min');
  t.equal(timeoutAfter(0, 0, 1000, 6000), 1000, 'k = 0: min at once');
  // memberlist's floor: mult × max(1, log10 n) × probe interval.
  t.equal(suspicionMinMs(LAN, 1000), 3000);
  t.equal(suspicionMinMs(LAN, 100), 2000);
  t.equal(suspicionMinMs(LAN, 5), 1000, 'log10 clamped at 1 for small clusters');
  t.equal(suspicionMaxMs(LAN, 1000), 18000);
  t.equal(suspicionConfirmationsWanted(LAN, 1000), 2);
  t.equal(suspicionConfirmationsWanted(LAN, 3), 0, 'too few members to confirm');
});

t.test('Suspicion: confirmations are counted once per member, never from the original suspector', async (t) => {
  const s = new Suspicion('a', 2, 1000, 6000, 500);
  t.equal(s.deadline(), 6500);
  t.notOk(s.confirm('a'), 'own echo');
  t.ok(s.confirm('b'));
  t.notOk(s.confirm('b'), 'duplicate');
  t.equal(s.deadline(), 500 + timeoutAfter(1, 2, 1000, 6000));
  t.ok(s.confirm('c'));
  t.equal(s.deadline(), 1500);
  t.notOk(s.confirm('d'), 'k reached: no more news to spread');
});

/** One core; pings are answered (acks) so its own probes never fail, but nobody refutes anything. */
function isolated(options: Partial<GossipOptions> = {}, members = 10) {
  let now = 0;
  const core = new GossipCore({
    self: { id: 'n0', addr: addrOf('n0'), clusterAddr: addrOf('n0'), role: 'worker', meta: META },
    rng: seededRng(5),
    nowMs: 0,
    options,
  });
  const recs: MemberRecord[] = [];
  for (let i = 1; i < members; i++) {
    const id = `n${i}`;
    recs.push({ id, addr: addrOf(id), clusterAddr: addrOf(id), role: 'worker', meta: META, state: 'alive', incarnation: 1, stateChangeMs: 0 });
  }
  core.restoreMembers(recs);
  core.ready();
  const events: { at: number; e: GossipEvent }[] = [];
  return {
    core,
    events,
    get now() {
      return now;
    },
    run(ms: number) {
      for (const end = now + ms; now < end; ) {
        now++;
        core.tick(now);
        const r = core.ready();
        for (const e of r.events) events.push({ at: now, e });
        for (const p of r.packets)
          for (const m of p.messages) if (m.type === 'ping') core.receive(p.to, [{ type: 'ack', seq: m.seq, from: m.target }]);
      }
    },
    deadAt(id: string): number | undefined {
      return events.find((x) => x.e.type === 'dead' && x.e.member.id === id)?.at;
    },
  };
}

const suspect = (id: string, from: string, inc = 1): SuspectMsg => ({ type: 'suspect', id, inc, from });

t.test('confirmations shrink the suspicion timeout (n = 10: min 1 s, max 6 s, k = 2)', async (t) => {
  const opts = { verifyBeforeDeclare: false };
  // No confirmation: max.
  let h = isolated(opts);
  h.run(10);
  h.core.receive(addrOf('n2'), [suspect('n1', 'n2')]);
  h.run(10_000);
  t.equal(h.deadAt('n1'), 10 + 6000, 'lone suspicion waits max');

  // One confirmation.
  h = isolated(opts);
  h.run(10);
  h.core.receive(addrOf('n2'), [suspect('n1', 'n2')]);
  h.run(100);
  h.core.receive(addrOf('n3'), [suspect('n1', 'n3')]);
  h.run(10_000);
  t.equal(h.deadAt('n1'), 10 + timeoutAfter(1, 2, 1000, 6000));

  // Two independent confirmations: min. A repeated confirmer does not count.
  h = isolated(opts);
  h.run(10);
  h.core.receive(addrOf('n2'), [suspect('n1', 'n2')]);
  h.core.receive(addrOf('n3'), [suspect('n1', 'n3'), suspect('n1', 'n3'), suspect('n1', 'n2')]);
  h.run(200);
  t.equal(h.core.member('n1')?.state, 'suspect');
  h.core.receive(addrOf('n4'), [suspect('n1', 'n4')]);
  h.run(10_000);
  t.equal(h.deadAt('n1'), 10 + 1000, 'k confirmations: min');
  const dead = h.events.find((x) => x.e.type === 'dead')!.e;
  t.match(dead, { type: 'dead', from: 'n0', local: true });
});

t.test('verification before declaring: the suspect answers and lives; silence kills', async (t) => {
  // A member that answers pings but never saw its suspicion (it missed the buddy ping):
  // the verification probe's ack (without refutation) restarts the suspicion instead of killing it.
  const h = isolated({});
  h.run(10);
  h.core.receive(addrOf('n2'), [suspect('n1', 'n2')]);
  h.run(20_000);
  t.equal(h.deadAt('n1'), undefined, 'answered verifications keep it alive');
  t.ok(h.core.metrics.verificationsAnswered >= 2);

  // Nobody answers pings to n1 any more: verified dead.
  const h2 = isolated({});
  const core = h2.core;
  const recv = core.receive.bind(core);
  core.receive = (from, msgs) => {
    if (msgs.some((m) => m.type === 'ack' && m.from === 'n1')) return;
    recv(from, msgs);
  };
  h2.run(10);
  core.receive(addrOf('n2'), [suspect('n1', 'n2'), suspect('n1', 'n3'), suspect('n1', 'n4')]);
  h2.run(5_000);
  t.equal(h2.deadAt('n1'), 10 + 1000, 'declared at the deadline: the verification ran during its last probe timeout');
  t.ok(h2.core.metrics.verifications >= 1);
});

t.test('refutation: a suspected member refutes with a higher incarnation and everyone sees it alive', async (t) => {
  const net = new MiniNet(['a', 'b', 'c', 'd']);
  net.run(300);
  net.core('a').receive(addrOf('c'), [suspect('b', 'c')]);
  net.flush();
  t.equal(net.stateOf('a', 'b'), 'suspect');
  t.ok(net.runUntil(() => ['a', 'c', 'd'].every((v) => net.core(v).member('b')?.state === 'alive' && net.core(v).member('b')?.incarnation === 2), 2_000), 'everyone has b alive at incarnation 2');
  t.equal(net.core('b').incarnation(), 2);
  t.equal(net.core('b').metrics.refutations, 1);
  t.equal(net.eventsOf('a', 'alive', 'b').length, 1, 'a saw the refutation');
  t.equal(net.core('b').healthScore(), 1, 'being suspected counts against our own health (Lifeguard)');
  // A stale suspicion (lower incarnation) changes nothing.
  net.core('a').receive(addrOf('c'), [suspect('b', 'c', 1)]);
  t.equal(net.stateOf('a', 'b'), 'alive');
});

t.test('buddy system: the ping to a suspect carries the suspicion, and its ack carries the refutation', async (t) => {
  const net = new MiniNet(['a', 'b', 'c']);
  // Only a hears of the suspicion; gossip of it is held back so the ping is the first news b gets.
  net.drop = (p) => p.from === 'a' && !p.msgs.some((m) => m.type === 'ping');
  net.run(50);
  net.core('a').receive(addrOf('c'), [suspect('b', 'c')]);
  net.flush();
  t.ok(net.runUntil(() => net.sent.some((s) => s.from === 'a' && s.to === 'b' && s.msgs[0]?.type === 'ping'), 5_000));
  const ping = net.sent.find((s) => s.from === 'a' && s.to === 'b' && s.msgs[0]?.type === 'ping')!;
  t.match(ping.msgs[1], { type: 'suspect', id: 'b', inc: 1 }, 'the suspicion rides right behind the ping');
  net.run(3);
  const ack = net.sent.find((s) => s.from === 'b' && s.to === 'a' && s.msgs[0]?.type === 'ack' && s.at >= ping.at)!;
  t.ok(ack, 'b acked');
  const alive = ack.msgs.find((m): m is AliveMsg => m.type === 'alive' && m.id === 'b');
  t.match(alive, { inc: 2 }, 'the ack carries the refutation');
  t.equal(net.stateOf('a', 'b'), 'alive');
});

t.test('a stale claim about us in a ping is answered with our current alive', async (t) => {
  const net = new MiniNet(['a', 'b', 'c']);
  net.run(10);
  // b is already at incarnation 3; a still believes the suspicion of incarnation 1.
  net.core('b').receive(addrOf('c'), [suspect('b', 'c', 2)]);
  t.equal(net.core('b').incarnation(), 3);
  // a hears nothing but b's acks: no gossip can carry the refutation to it.
  net.drop = (p) => p.to === 'a' && !(p.from === 'b' && p.msgs[0]?.type === 'ack');
  net.core('a').receive(addrOf('c'), [suspect('b', 'c', 1)]);
  net.flush();
  t.ok(net.runUntil(() => net.stateOf('a', 'b') === 'alive', 10_000), 'a learns b alive@3 from the ack to its (buddy) ping');
  t.equal(net.core('a').member('b')?.incarnation, 3);
});
