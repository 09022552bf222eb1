/**
 * The leader's SerialLoop on simulated time: pokes coalesce into one step;
 * a step that reports its cost (spent) makes the loop rest restRatio × that
 * cost before the next, pokes during the rest becoming one step at its end;
 * a cheap step (or restRatio 0) rests not at all; a rest is at most 200 ms;
 * a step's own wake-up comes no earlier than the rest allows; nudges (changes
 * that may wait) are stepped on at most once per NUDGE_GAP_MS.
 */
import t from 'tap';
import { NUDGE_GAP_MS, SerialLoop } from '../../src/manager/leader/serial-loop.js';
import { SimTimers } from '../sim/timers.js';

function harness(restRatio: number, costMs: number, wakeIn: number | null = null) {
  const timers = new SimTimers();
  const steps: number[] = [];
  const loop: SerialLoop = new SerialLoop(
    async () => {
      steps.push(timers.now());
      loop.spent(costMs);
      return wakeIn;
    },
    (err) => {
      throw err;
    },
    timers,
    restRatio,
  );
  return { timers, steps, loop };
}

t.test('pokes in a burst coalesce into one step', async (t) => {
  const { timers, steps, loop } = harness(0, 0);
  loop.start();
  for (let i = 0; i < 5; i++) loop.poke();
  timers.advance(1);
  await Promise.resolve();
  t.same(steps, [0], 'one step for the start and five pokes');
});

t.test('a costly step rests restRatio × its cost before the next; pokes meanwhile are one step', async (t) => {
  const { timers, steps, loop } = harness(3, 10);
  loop.start();
  timers.advance(0);
  await new Promise((r) => setImmediate(r));
  t.same(steps, [0]);
  // Poked at once and again and again during the rest: the next step waits until 0 + 3 × 10.
  for (let ms = 1; ms < 30; ms += 5) {
    loop.poke();
    timers.advance(5);
    await new Promise((r) => setImmediate(r));
  }
  timers.advance(5);
  await new Promise((r) => setImmediate(r));
  t.same(steps, [0, 30], 'the pokes during the rest became one step, at its end');
});

t.test('no rest without a ratio or without cost', async (t) => {
  for (const [ratio, cost] of [
    [0, 10],
    [3, 0],
  ] as const) {
    const { timers, steps, loop } = harness(ratio, cost);
    loop.start();
    timers.advance(0);
    await new Promise((r) => setImmediate(r));
    loop.poke();
    timers.advance(0);
    await new Promise((r) => setImmediate(r));
    t.same(steps, [0, 0], `ratio ${ratio}, cost ${cost}: the poke runs at once`);
  }
});

t.test("a step's own wake-up waits for the rest", async (t) => {
  const { timers, steps, loop } = harness(3, 10, 5);
  loop.start();
  for (let i = 0; i < 8; i++) {
    timers.advance(5);
    await new Promise((r) => setImmediate(r));
  }
  t.same(steps, [0, 30], 'asked to run again in 5 ms, it ran when the 30 ms rest ended');
});

t.test('a rest is at most 200 ms, however long the step', async (t) => {
  const { timers, steps, loop } = harness(3, 1_000);
  loop.start();
  timers.advance(0);
  await new Promise((r) => setImmediate(r));
  loop.poke();
  for (let i = 0; i < 5; i++) {
    timers.advance(50);
    await new Promise((r) => setImmediate(r));
  }
  t.same(steps, [0, 200], 'a 1 s step rested 200 ms, not 3 s');
});

t.test('nudges: at once after a quiet spell; in a storm, one step per NUDGE_GAP_MS; a poke does not wait for them', async (t) => {
  const { timers, steps, loop } = harness(0, 0);
  const tick = async (ms: number) => {
    timers.advance(ms);
    await new Promise((r) => setImmediate(r));
  };
  loop.start();
  await tick(0);
  t.same(steps, [0]);
  // A storm: a nudge every 10 ms for 600 ms.
  for (let i = 0; i < 60; i++) {
    loop.nudge();
    await tick(10);
  }
  t.same(steps, [0, 200, 400, 600], `one step per ${NUDGE_GAP_MS} ms, each seeing every nudge before it`);
  // Nothing left pending once a step has seen the last nudge.
  await tick(1_000);
  t.same(steps.length, 4, 'no step without a nudge after the last one');
  // After a quiet spell a nudge runs at once.
  loop.nudge();
  await tick(0);
  t.same(steps.at(-1), 1_600, 'a lone nudge after a quiet spell runs at once');
  // A poke right after does not wait for the nudge gap.
  loop.nudge();
  await tick(5);
  loop.poke();
  await tick(0);
  t.same(steps.slice(-2), [1_600, 1_605], 'the poke ran at once, and answered the pending nudge');
  await tick(1_000);
  t.same(steps.length, 6, 'the nudge it answered does not step again');
  loop.stop();
});
