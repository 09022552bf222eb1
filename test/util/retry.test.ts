/**
 * The one retry helper (src/util/retry.ts) and the one error model
 * (src/util/errors.ts): what is retried, how long it waits, where a leader
 * hint sends the next attempt, and how an error looks on the wire.
 */
import t from 'tap';
import { fromErrorData, isRetryable, leaderHintOf, RemoteError, ShoalError, toErrorData } from '../../src/util/errors.js';
import { retry, RetryExhaustedError } from '../../src/util/retry.js';
import { seededRng } from '../../src/util/rng.js';

class E extends ShoalError {
  readonly ns = 'test';
}
const busy = () => new E('BUSY', 'busy', { retryable: true, status: 503 });
const bad = () => new E('BAD', 'bad input', { status: 400 });
const redirect = (addr: string) => new E('NOT_LEADER', 'go elsewhere', { retryable: true, status: 503, leader: { nodeId: addr, addr } });

/** A fake clock that the fake sleep moves, so deadlines are exact and nothing waits. */
function clock() {
  let now = 0;
  const slept: number[] = [];
  return { slept, now: () => now, sleep: async (ms: number) => void (slept.push(ms), (now += ms)), rng: seededRng(7) };
}

t.test('the error model: qualified codes, retryable, status, and a lossless wire form', async (t) => {
  const e = redirect('m2:1');
  t.equal(e.qualifiedCode, 'test.NOT_LEADER');
  t.ok(isRetryable(e));
  t.notOk(isRetryable(new Error('a bug')), 'untyped errors are never retried: they are bugs');
  const back = fromErrorData(toErrorData(e));
  t.ok(back instanceof RemoteError);
  t.same([back.ns, back.code, back.qualifiedCode, back.retryable, back.status, back.message], ['test', 'NOT_LEADER', 'test.NOT_LEADER', true, 503, 'go elsewhere']);
  t.same(leaderHintOf(back), { nodeId: 'm2:1', addr: 'm2:1' });
  t.same(toErrorData(new TypeError('x is undefined')), { code: 'internal.ERROR', message: 'x is undefined', retryable: false, status: 500 }, 'an untyped error is internal, not retryable');
});

t.test('retryable errors are retried with jittered exponential back-off until success', async (t) => {
  const c = clock();
  let n = 0;
  const v = await retry(
    async ({ attempt }) => {
      t.equal(attempt, n);
      if (n++ < 5) throw busy();
      return 'done';
    },
    { what: 'x', backoff: { initialMs: 100, maxMs: 1_000, factor: 2, jitter: 0.5 }, ...c },
  );
  t.equal(v, 'done');
  t.equal(c.slept.length, 5);
  c.slept.forEach((d, i) => {
    const base = Math.min(1_000, 100 * 2 ** i);
    t.ok(d >= base / 2 && d <= base, `attempt ${i}: ${d} ms within [${base / 2}, ${base}]`);
  });
});

t.test('a non-retryable error is thrown at once, as it is', async (t) => {
  const c = clock();
  let n = 0;
  const err = bad();
  await t.rejects(
    retry(async () => {
      n++;
      throw err;
    }, { what: 'x', ...c }),
    err,
  );
  t.equal(n, 1);
  t.same(c.slept, []);
});

t.test('a leader hint sends the next attempt there at once; redirects that go round in circles back off', async (t) => {
  const c = clock();
  const tried: (string | null)[] = [];
  await retry(
    async ({ leader }) => {
      tried.push(leader?.addr ?? null);
      if (leader?.addr !== 'leader:1') throw redirect('leader:1');
      return true;
    },
    { what: 'x', ...c },
  );
  t.same(tried, [null, 'leader:1'], 'the second attempt went to the leader');
  t.same(c.slept, [], 'with no wait');

  // Two nodes naming each other mid-election: every hint is followed once, then the helper waits.
  const d = clock();
  const seen: (string | null)[] = [];
  await t.rejects(
    retry(
      async ({ leader }) => {
        seen.push(leader?.addr ?? null);
        throw redirect(leader?.addr === 'a:1' ? 'b:1' : 'a:1');
      },
      { what: 'ping-pong', deadlineMs: 1_000, ...d },
    ),
    RetryExhaustedError,
  );
  t.ok(d.slept.length > 0 && d.slept.length < seen.length, `waited ${d.slept.length} times in ${seen.length} attempts`);
});

t.test('the deadline and the attempt budget end it; the last error is the cause', async (t) => {
  const c = clock();
  const err = await retry(async () => Promise.reject(busy()), { what: 'reaching x', deadlineMs: 2_000, backoff: { initialMs: 100, maxMs: 400 }, ...c }).catch((e: unknown) => e);
  t.ok(err instanceof RetryExhaustedError);
  const x = err as RetryExhaustedError;
  t.match(x.message, /^reaching x: gave up after \d+ attempts: busy$/);
  t.equal((x.last as E).code, 'BUSY');
  t.equal(x.status, 503, 'keeps the last error\'s status');
  t.ok(c.now() >= 2_000 && c.now() <= 2_400, `gave up at the deadline (${c.now()} ms)`);

  const d = clock();
  let n = 0;
  const last = await retry(async () => Promise.reject((n++, busy())), { what: 'x', attempts: 3, exhausted: 'last', ...d }).catch((e: unknown) => e);
  t.equal(n, 3, 'three attempts');
  t.ok(last instanceof E, "exhausted: 'last' throws the last error itself");
});

t.test('stopped() ends it with the last error', async (t) => {
  const c = clock();
  let stop = false;
  let n = 0;
  const err = await retry(
    async () => {
      if (++n === 3) stop = true;
      throw busy();
    },
    { what: 'x', stopped: () => stop, deadlineMs: Infinity, ...c },
  ).catch((e: unknown) => e);
  t.equal(n, 3);
  t.ok(err instanceof E);
});
