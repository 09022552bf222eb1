/**
 * Probing: direct ping/ack, the early direct retry, the indirect ping-req
 * round, nacks, and the local health multiplier (Lifeguard part 1).
 */
import t from 'tap';
import { MiniNet, addrOf } from './sim/mini.js';
import { GossipCore } from '../../src/gossip/core.js';
import { seededRng } from '../../src/util/rng.js';
import type { GossipMessage, MemberRecord, PingMsg } from '../../src/gossip/interface.js';
import { META } from './sim/mini.js';
import type { GossipOptions } from '../../src/gossip/options.js';

const ids = ['a', 'b', 'c'];

t.test('probe and ack: a healthy cluster raises no suspicion', async (t) => {
  const net = new MiniNet(ids);
  net.run(5_000);
  for (const id of ids) {
    const c = net.core(id);
    t.ok(c.metrics.probes >= 15, `${id} probed (${c.metrics.probes})`);
    t.equal(c.metrics.acksReceived, c.metrics.probes, `${id} got an ack for every probe`);
    t.equal(c.metrics.indirectProbes, 0, `${id} never needed helpers`);
    t.equal(net.eventsOf(id, 'suspect').length, 0, `${id} suspected nobody`);
    t.equal(c.healthScore(), 0);
  }
});

t.test('a lost ping is retried directly before helpers are asked', async (t) => {
  const net = new MiniNet(ids);
  let dropped = 0;
  // Drop the first ping of each probe a→b once.
  net.drop = (p) => {
    const ping = p.msgs.find((m): m is PingMsg => m.type === 'ping');
    if (p.from === 'a' && p.to === 'b' && ping && dropped < 3 && !seenSeq.has(ping.seq)) {
      seenSeq.add(ping.seq);
      dropped++;
      return true;
    }
    return false;
  };
  const seenSeq = new Set<number>();
  net.run(5_000);
  const a = net.core('a');
  t.equal(dropped, 3);
  t.equal(a.metrics.indirectProbes, 0, 'the 50 ms retry answered every time');
  t.equal(net.eventsOf('a', 'suspect').length, 0);
});

t.test('indirect probe: helpers relay the ack when the direct path is broken', async (t) => {
  const net = new MiniNet(ids);
  net.drop = (p) => (p.from === 'a' && p.to === 'b') || (p.from === 'b' && p.to === 'a');
  net.run(10_000);
  const a = net.core('a');
  t.ok(a.metrics.indirectProbes > 0, 'a used the indirect round');
  t.ok(net.core('c').metrics.pingReqsServed > 0, 'c served ping-reqs');
  t.equal(net.eventsOf('a', 'suspect', 'b').length, 0, 'b was never suspected by a');
  t.equal(net.stateOf('a', 'b'), 'alive');
  t.equal(a.healthScore(), 0, 'successful indirect probes keep a healthy');
});

t.test('nack: a helper that hears nothing from the target says so (and the prober is not blamed)', async (t) => {
  const net = new MiniNet(ids, { verifyBeforeDeclare: false });
  net.crash('b');
  t.ok(net.runUntil(() => net.eventsOf('a', 'suspect', 'b').length > 0, 10_000), 'b is suspected');
  t.ok(net.core('c').metrics.nacksSent > 0, 'c sent nacks');
  t.ok(net.core('a').metrics.nacksReceived > 0, 'a received nacks');
  t.equal(net.core('a').healthScore(), 0, 'every expected nack arrived: the failure is not ours');
});

/** One core whose probes the test answers (or not) by hand. */
function isolated(members = 10, options: Partial<GossipOptions> = {}) {
  let now = 0;
  const core = new GossipCore({
    self: { id: 'n0', addr: addrOf('n0'), clusterAddr: addrOf('n0'), role: 'worker', meta: META },
    rng: seededRng(3),
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
  const pings: { at: number; msg: PingMsg; to: string }[] = [];
  return {
    core,
    pings,
    get now() {
      return now;
    },
    /** Steps 1 ms at a time; `answer` decides whether a ping gets its ack. */
    run(ms: number, answer: (p: PingMsg) => boolean, onPacket?: (to: string, msgs: GossipMessage[]) => void) {
      for (const end = now + ms; now < end; ) {
        now++;
        core.tick(now);
        for (const p of core.ready().packets) {
          onPacket?.(p.to, p.messages);
          for (const m of p.messages) {
            if (m.type !== 'ping') continue;
            pings.push({ at: now, msg: m, to: p.to });
            if (answer(m)) core.receive(p.to, [{ type: 'ack', seq: m.seq, from: m.target }]);
          }
        }
      }
    },
  };
}

t.test('local health multiplier: failed probes without nacks slow our own probing, successes heal it', async (t) => {
  // Suspicions must not turn into deaths during the test (dead members are not probed).
  const h = isolated(10, { suspicionMult: 200 });
  // Nobody answers: every probe fails and none of the 4 helpers nacks.
  h.run(3_000, () => false);
  t.equal(h.core.healthScore(), 7, 'score saturates at awarenessMaxMultiplier − 1');
  // (Members get suspected and verified meanwhile; count round-robin probes only.)
  let before = h.core.metrics.probes;
  h.run(20_000, () => false);
  t.equal(h.core.metrics.probes - before, 10, 'probe interval stretched 8×: one probe per 2 s');
  // Acks again: each success lowers the score by one.
  h.run(20_000, () => true);
  t.equal(h.core.healthScore(), 0, 'healthy again');
  before = h.core.metrics.probes;
  h.run(2_500, () => true);
  t.equal(h.core.metrics.probes - before, 10, 'back to 4 probes/s');
});

t.test('round-robin probe order: every member once per round, reshuffled each round', async (t) => {
  const h = isolated(9);
  h.run(250 * 8 * 3, () => true);
  const targets = h.pings.filter((p, i, a) => a.findIndex((q) => q.msg.seq === p.msg.seq) === i).map((p) => p.msg.target);
  const rounds = [targets.slice(0, 8), targets.slice(8, 16), targets.slice(16, 24)];
  for (const r of rounds) t.same([...r].sort(), ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'n8'], 'each member once per round');
  t.notSame(rounds[0], rounds[1], 'the order changes between rounds');
});
