import { WireError } from '../../src/wire/errors.js';
import { toErrorData } from '../../src/util/errors.js';
import { DispatcherError } from '../../src/manager/dispatcher/errors.js';
import t from 'tap';
import type { Transport } from '../../src/wire/interface.js';
import { SessionClient, sessionBackoff } from '../../src/worker/agent/session.js';
import { seededRng } from '../../src/util/rng.js';

/**
 * The session's reconnect back-off: the wire's jittered one (so the workers
 * of a failed manager spread their reconnects out), capped, with NOT_LEADER
 * redirects still followed at once. A fake transport fails every dial; the
 * session's sleeps are recorded instead of slept.
 */
function failingSession(seed: number, fail: (addr: string) => Error, attempts: number) {
  const delays: number[] = [];
  const dialled: string[] = [];
  let stop: () => void = () => {};
  const done = new Promise<void>((resolve) => (stop = resolve));
  const transport = {
    connect: async (addr: string) => {
      dialled.push(addr);
      throw fail(addr);
    },
  } as unknown as Transport;
  const s = new SessionClient({
    transport,
    nodeId: 'w1',
    description: { hostname: 'w1', os: 'linux', arch: 'x86_64', nanoCpus: 1e9, memoryBytes: 2 ** 30, labels: {}, runtimes: [], engineVersion: 't', clusterAddr: 'x:1', gossipAddr: 'x:1' },
    managers: ['m1:1', 'm2:1'],
    onAssignments: () => {},
    rng: seededRng(seed),
    sleep: async (ms) => {
      delays.push(ms);
      if (delays.length >= attempts) {
        s.stop();
        stop();
      }
      await new Promise((r) => setImmediate(r));
    },
  });
  s.start();
  return done.then(() => ({ delays, dialled }));
}

const refused = () => new Error('CONNECT_FAILED: connection refused');

t.test('failures back off exponentially with equal jitter, capped', async (t) => {
  const { delays } = await failingSession(1, refused, 12);
  const { initialMs, factor, maxMs, jitter } = sessionBackoff;
  t.equal(maxMs, 1_000, 'capped at 1 s, as before');
  delays.forEach((d, i) => {
    const base = Math.min(maxMs, initialMs * factor ** i);
    t.ok(d >= base * (1 - jitter) - 1 && d <= base, `attempt ${i}: ${d} ms within [${base * (1 - jitter)}, ${base}]`);
  });
  t.ok(Math.max(...delays) <= maxMs, `never more than ${maxMs} ms`);
  t.ok(delays.slice(-4).every((d) => d >= maxMs * (1 - jitter) - 1), 'a long string of failures stays near the cap');
});

t.test('jitter: two workers failing in lockstep do not retry in lockstep', async (t) => {
  const [a, b] = await Promise.all([failingSession(1, refused, 10), failingSession(2, refused, 10)]);
  const same = a.delays.filter((d, i) => d === b.delays[i]).length;
  t.ok(same <= 2, `delays differ between workers (${a.delays.join(',')} vs ${b.delays.join(',')})`);
  t.ok(new Set(a.delays.slice(-4)).size > 1, `capped delays still vary: ${a.delays.slice(-4).join(',')}`);
});

t.test('a NOT_LEADER redirect is followed at once, and does not grow the back-off', async (t) => {
  // m1 and m2 redirect to the leader, which refuses.
  // The refusal as it arrives: a stream reset carrying the dispatcher's error, leader hint and all, as data.
  const notLeader = (addr: string) =>
    new WireError('REMOTE_ERROR', `stream dispatcher.session reset by ${addr}: not the leader`, 'dispatcher.session', toErrorData(new DispatcherError('NOT_LEADER', 'not the leader', { nodeId: 'n9', addr: 'leader:1' })));
  const fail = (addr: string) => (addr === 'leader:1' ? refused() : notLeader(addr));
  const { delays, dialled } = await failingSession(3, fail, 6);
  t.same(dialled.slice(0, 4), ['m1:1', 'leader:1', 'm2:1', 'leader:1'], 'each redirect dialled next');
  t.equal(delays[0], 0, 'redirect: no wait');
  t.equal(delays[2], 0, 'redirect: no wait');
  const { initialMs, factor, jitter } = sessionBackoff;
  t.ok(delays[1]! >= initialMs * (1 - jitter) - 1 && delays[1]! <= initialMs, `first real failure waits the first step: ${delays[1]}`);
  t.ok(delays[3]! <= initialMs * factor, `second real failure waits the second step: ${delays[3]}`);
});

t.test('managers from discovery are tried after the known ones, once each', async (t) => {
  let extra = ['m2:1', 'm3:1', 'm3:1'];
  const transport = {} as Transport;
  const dialled: string[] = [];
  (transport as { connect: unknown }).connect = async (addr: string) => {
    dialled.push(addr);
    throw refused();
  };
  let n = 0;
  await new Promise<void>((resolve) => {
    const s = new SessionClient({
      transport,
      nodeId: 'w1',
      description: { hostname: 'w1', os: 'linux', arch: 'x86_64', nanoCpus: 1e9, memoryBytes: 2 ** 30, labels: {}, runtimes: [], engineVersion: 't', clusterAddr: 'x:1', gossipAddr: 'x:1' },
      managers: ['m1:1', 'm2:1'],
      discoverManagers: () => extra,
      onAssignments: () => {},
      sleep: async () => {
        if (++n === 3) extra = ['m4:1'];
        if (n === 7) {
          s.stop();
          resolve();
        }
      },
    });
    s.start();
  });
  t.same(dialled, ['m1:1', 'm2:1', 'm3:1', 'm4:1', 'm1:1', 'm2:1', 'm3:1'], 'round-robin over known + discovered, no duplicates');
});
