/**
 * The stall guard: a member that was paused (timers did not fire, packets
 * queued in its socket) must not declare others dead on resuming just
 * because its timers fire before it reads the refutations in its backlog.
 */
import t from 'tap';
import { MiniNet, addrOf } from './sim/mini.js';
import type { GossipOptions } from '../../src/gossip/options.js';

function scenario(options: Partial<GossipOptions>) {
  const net = new MiniNet(['a', 'b', 'c', 'd'], options);
  net.run(300);
  // a suspects b; b hears of it and refutes, but a is paused before the refutation arrives.
  net.core('a').receive(addrOf('c'), [{ type: 'suspect', id: 'b', inc: 1, from: 'c' }]);
  net.pause('a');
  net.core('b').receive(addrOf('c'), [{ type: 'suspect', id: 'b', inc: 1, from: 'c' }]);
  net.flush();
  // Paused far beyond a's suspicion timeout (max 6 s at n = 4).
  net.run(8_000);
  net.resume('a');
  const scoreAfterResume = net.core('a').healthScore();
  net.run(2_000);
  return { net, scoreAfterResume };
}

t.test('after a pause, the backlog (refutations) is read before any suspicion expires', async (t) => {
  const { net, scoreAfterResume } = scenario({});
  t.equal(net.eventsOf('a', 'dead', 'b').length, 0, 'b was not declared dead');
  t.equal(net.stateOf('a', 'b'), 'alive');
  t.equal(net.core('a').metrics.stalls, 1, 'the stall was noticed');
  t.ok(scoreAfterResume >= 1, 'and counted against our health');
});

t.test('without the guard (and without verification) the paused member kills a live one', async (t) => {
  const { net } = scenario({ stallThresholdMs: 1e12, verifyBeforeDeclare: false });
  t.equal(net.eventsOf('a', 'dead', 'b').length, 1, 'the Lifeguard scenario: a false positive');
  // b refutes the death it hears about, and comes back.
  t.equal(net.stateOf('c', 'b'), 'alive');
});

t.test('a member slowed by its health multiplier, ticked only at its deadlines, is not "stalled"', async (t) => {
  const { GossipCore } = await import('../../src/gossip/core.js');
  const { seededRng } = await import('../../src/util/rng.js');
  const { META } = await import('./sim/mini.js');
  const core = new GossipCore({ self: { id: 'a', addr: 'a:1', clusterAddr: 'a:1', role: 'worker', meta: META }, rng: seededRng(9), nowMs: 0, options: { suspicionMult: 500 } });
  core.restoreMembers(
    ['b', 'c', 'd', 'e', 'f'].map((id) => ({ id, addr: `${id}:1`, clusterAddr: `${id}:1`, role: 'worker' as const, meta: META, state: 'alive' as const, incarnation: 1, stateChangeMs: 0 })),
  );
  // Nobody ever answers; the driver wakes the core exactly at its deadlines.
  let gaps = 0;
  let last = 0;
  while (last < 60_000) {
    const d = core.nextDeadline();
    if (d - last > 1_000) gaps++;
    last = d;
    core.tick(d);
    core.ready();
  }
  t.equal(core.healthScore(), 7, 'saturated health multiplier: one probe per 2 s');
  t.ok(gaps > 0, 'there were sleeps longer than the stall threshold');
  t.equal(core.metrics.stalls, 0, 'none of them counted as a stall');
});
