/** Profiles and option validation. */
import t from 'tap';
import { LAN, LOCAL, WAN, pushPullIntervalFor, resolveOptions } from '../../src/gossip/options.js';
import { GossipCore } from '../../src/gossip/core.js';
import { seededRng } from '../../src/util/rng.js';
import { META } from './sim/mini.js';

t.test('profiles resolve and keep the design defaults', async (t) => {
  t.same(resolveOptions(), LAN);
  t.equal(LAN.probeIntervalMs, 250);
  t.equal(LAN.probeTimeoutMs, 100);
  t.same(resolveOptions({}, 'wan'), WAN);
  t.same(resolveOptions({ probeIntervalMs: 200 }, 'local'), { ...LOCAL, probeIntervalMs: 200 });
  t.equal(resolveOptions({ probeIntervalMs: undefined }).probeIntervalMs, 250, 'undefined does not override');
  t.equal(pushPullIntervalFor(30_000, 32), 30_000);
  t.equal(pushPullIntervalFor(30_000, 1000), 180_000);
});

t.test('inconsistent options are refused with a typed error', async (t) => {
  t.throws(() => resolveOptions({ probeTimeoutMs: 300 }), { code: 'INVALID_OPTIONS' });
  t.throws(() => resolveOptions({ probeIntervalMs: 0 }), { code: 'INVALID_OPTIONS' });
  t.throws(() => resolveOptions({ maxPacketBytes: 300 }), { code: 'INVALID_OPTIONS' });
  t.throws(() => resolveOptions({ awarenessMaxMultiplier: 2.5 }), { code: 'INVALID_OPTIONS' });
  t.throws(() => resolveOptions({ indirectChecks: -1 }), { code: 'INVALID_OPTIONS' });
});

t.test('the core refuses a clock that runs backwards', async (t) => {
  const c = new GossipCore({ self: { id: 'a', addr: 'a:1', clusterAddr: 'a:1', role: 'worker', meta: META }, rng: seededRng(1), nowMs: 100 });
  c.tick(150);
  t.throws(() => c.tick(149), { code: 'BAD_REQUEST' });
  t.throws(
    () => new GossipCore({ self: { id: '', addr: 'a:1', clusterAddr: 'a:1', role: 'worker', meta: META }, rng: seededRng(1), nowMs: 0 }),
    { code: 'BAD_REQUEST' },
  );
});
