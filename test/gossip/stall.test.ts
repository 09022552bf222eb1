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
