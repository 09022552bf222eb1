import t from 'tap';
import {
  check,
  checkCas,
  checkKv,
  HistoryError,
  type Model,
  type Operation,
} from '../../chaos-tests/linearizability/index.js';
import { Bitset } from '../../chaos-tests/linearizability/bitset.js';
import { Memo } from '../../chaos-tests/linearizability/memo.js';
import { at, casOp, kv, read, write } from './helpers.js';

const U = Infinity; // unknown outcome

t.test('sequential histories', async (t) => {
  t.equal(checkCas([]).verdict, 'linearizable', 'empty history');
  t.equal(checkCas([at(0, 0, 1, read(null))]).verdict, 'linearizable');
  t.equal(checkCas([at(0, 0, 1, read(0))]).verdict, 'not linearizable', 'register starts as nil, not 0');
  t.equal(
    checkCas([at(0, 0, 1, write(1)), at(0, 2, 3, read(1)), at(0, 4, 5, casOp(1, 2, true)), at(0, 6, 7, read(2))]).verdict,
    'linearizable',
  );
  t.equal(checkCas([at(0, 0, 1, write(1)), at(0, 2, 3, read(2))]).verdict, 'not linearizable');
  t.equal(
    checkCas([at(0, 0, 1, write(1)), at(1, 2, 3, casOp(2, 3, false)), at(0, 4, 5, read(1))]).verdict,
    'linearizable',
    'a failed cas is an op that leaves the register alone',
  );
  t.equal(
    checkCas([at(0, 0, 1, write(2)), at(1, 2, 3, casOp(2, 3, false))]).verdict,
    'not linearizable',
    'a failed cas cannot be placed where the register held `from`',
  );
});

t.test('concurrent operations (the 6.824 quiz examples)', async (t) => {
  // write(100) overlaps both reads; one saw it, the other did not, but the
  // one that missed it could have run first.
  t.equal(
    checkCas([at(0, 0, 100, write(100)), at(1, 25, 75, read(100)), at(2, 30, 60, read(null))]).verdict,
    'linearizable',
  );
  // Here the read that missed it started after the read that saw it ended.
  const bad = checkCas([at(0, 0, 100, write(200)), at(1, 10, 30, read(200)), at(2, 40, 90, read(null))]);
  t.equal(bad.verdict, 'not linearizable');
  t.match(bad.window, /read\(\) -> nil/);
  // Real-time order between non-overlapping operations is binding.
  t.equal(checkCas([at(0, 0, 10, write(1)), at(1, 1, 2, read(null)), at(2, 3, 4, read(1))]).verdict, 'linearizable');
  t.equal(checkCas([at(0, 0, 10, write(1)), at(1, 1, 2, read(1)), at(2, 3, 4, read(null))]).verdict, 'not linearizable');
});

t.test('only one order works', async (t) => {
  // Three concurrent cas ops listed in the wrong order: only 0→1→2→3 explains the final read.
  const chain = (final: number) => [
    at(0, 0, 1, write(0)),
    at(1, 2, 20, casOp(2, 3, true)),
    at(2, 2, 20, casOp(1, 2, true)),
    at(3, 2, 20, casOp(0, 1, true)),
    at(0, 21, 22, read(final)),
  ];
  t.equal(checkCas(chain(3)).verdict, 'linearizable');
  t.equal(checkCas(chain(2)).verdict, 'not linearizable', 'cas(2,3) succeeded, so 2 cannot be last');

  // Concurrent appends: the read fixes their order (c, a, b) among 6.
  const appends = (seen: string) => [
    kv(0, 0, 10, { op: 'append', key: 'k', value: 'a' }),
    kv(1, 0, 10, { op: 'append', key: 'k', value: 'b' }),
    kv(2, 0, 10, { op: 'append', key: 'k', value: 'c' }),
    kv(3, 5, 6, { op: 'get', key: 'k' }, { value: 'c' }),
    kv(3, 11, 12, { op: 'get', key: 'k' }, { value: seen }),
  ];
  t.equal(checkKv(appends('cab')).verdict, 'linearizable');
  t.equal(checkKv(appends('cba')).verdict, 'linearizable');
  t.equal(checkKv(appends('abc')).verdict, 'not linearizable', 'c was seen alone first, so it cannot come last');
  t.equal(checkKv(appends('cabd')).verdict, 'not linearizable');
});

t.test('unknown outcomes: any time after the call, or never', async (t) => {
  t.equal(checkCas([at(0, 0, U, write(1)), at(1, 1, 2, read(null))]).verdict, 'linearizable', 'never took effect');
  t.equal(checkCas([at(0, 0, U, write(1)), at(1, 5, 6, read(1))]).verdict, 'linearizable', 'took effect, long after');
  t.equal(
    checkCas([at(0, 0, U, write(1)), at(1, 1, 2, read(null)), at(1, 3, 4, read(1)), at(1, 5, 6, read(1))]).verdict,
    'linearizable',
    'took effect between the reads',
  );
  t.equal(
    checkCas([at(0, 0, U, write(1)), at(1, 1, 2, read(1)), at(1, 3, 4, read(null))]).verdict,
    'not linearizable',
    'once seen it cannot be unseen',
  );
  t.equal(
    checkCas([at(1, 0, 1, read(1)), at(0, 2, U, write(1))]).verdict,
    'not linearizable',
    'cannot take effect before its call',
  );
  // Unknown cas: swapped only if the register held `from` when it took effect.
  t.equal(checkCas([at(0, 0, 1, write(1)), at(1, 2, U, casOp(1, 5, true)), at(0, 3, 4, read(5))]).verdict, 'linearizable');
  t.equal(checkCas([at(0, 0, 1, write(2)), at(1, 2, U, casOp(1, 5, true)), at(0, 3, 4, read(5))]).verdict, 'not linearizable');
  // A dozen concurrent unknown writes: 2^12 subsets, still quick either way.
  const many = [at(0, 0, 1, write(0))];
  for (let c = 1; c <= 12; c++) many.push(at(c, c + 1, U, write(c)));
  many.push(at(0, 100, 101, read(7)));
  t.equal(checkCas(many).verdict, 'linearizable');
  many.push(at(0, 102, 103, read(99)));
  t.equal(checkCas(many).verdict, 'not linearizable');
  // Unknown ops that would not change the state are never worth placing:
  // 60 timed-out cas ops that cannot match stay cheap.
  const idle = [at(0, 0, 1, write(0))];
  for (let c = 1; c <= 60; c++) idle.push(at(c, c + 1, U, casOp(1000 + c, c, true)));
  idle.push(at(0, 100, 101, read(5)));
  t.equal(checkCas(idle, { timeoutMs: 5000 }).verdict, 'not linearizable');
  // Output given for an unknown op is ignored (the contract says undefined).
  t.equal(checkCas([{ client: 0, call: 0, ret: U, input: { op: 'read' }, output: { value: 7 } }]).verdict, 'linearizable');
});

t.test('equal times: a return and a call at the same instant count as concurrent', async (t) => {
  t.equal(checkCas([at(0, 0, 5, write(1)), at(1, 5, 6, read(null))]).verdict, 'linearizable');
  t.equal(checkCas([at(0, 0, 5, write(1)), at(1, 6, 7, read(null))]).verdict, 'not linearizable');
  t.equal(checkCas([at(0, 3, 3, write(1)), at(1, 3, 3, read(1))]).verdict, 'linearizable', 'zero-length operations');
});

t.test('the failing window points at the stuck operation', async (t) => {
  const r = checkKv([
    kv(0, 1, 2, { op: 'put', key: 'x', value: 'a' }),
    kv(1, 3, 4, { op: 'put', key: 'y', value: 'b' }),
    kv(0, 5, 6, { op: 'append', key: 'x', value: 'c' }),
    kv(2, 5, 9, { op: 'append', key: 'x', value: 'd' }),
    kv(1, 7, 8, { op: 'get', key: 'x' }, { value: 'ad' }),
  ]);
  t.equal(r.verdict, 'not linearizable');
  const lines = r.window!.split('\n');
  t.match(lines[0], /^key "x": no linearization of 4 operations gets past the one marked >>/);
  t.match(r.window, />> client 1 +call 7 +ret 8 +get\("x"\) -> "ad"/);
  t.match(r.window, /client 0 +call 5 +ret 6 +append\("x", "c"\)/);
  t.notMatch(r.window, /"y"/, 'other keys stay out of the window');
  t.ok(lines.length <= 12, 'short');
  t.equal(checkKv([kv(0, 1, 2, { op: 'get', key: 'x' }, { value: '' })]).window, undefined);
});

t.test('bad operations are typed errors', async (t) => {
  t.throws(() => checkCas([at(0, 5, 4, read(null))]), HistoryError);
  t.throws(() => checkCas([at(0, NaN, 4, read(null))]), { name: 'HistoryError', index: 0 });
  t.throws(() => checkCas([at(0, 0, 1, read(null)), at(0, Infinity, Infinity, read(null))]), { name: 'HistoryError', index: 1 });
});

/** n concurrent appends of distinct values and a read no order explains: n! orders to rule out. */
function hardHistory(n: number) {
  const ops = [];
  for (let c = 0; c < n; c++) ops.push(kv(c, 0, 10, { op: 'append', key: 'k', value: String.fromCharCode(97 + c) }));
  ops.push(kv(n, 11, 12, { op: 'get', key: 'k' }, { value: 'nope' }));
  return ops;
}

t.test('budgets: timeout and configuration cap give unknown', async (t) => {
  const slow = checkKv(hardHistory(12), { timeoutMs: 100 });
  t.equal(slow.verdict, 'unknown');
  t.match(slow.reason, /^timed out after 100 ms$/);
  t.ok(slow.elapsedMs < 5000, `stopped promptly (${slow.elapsedMs.toFixed(0)} ms)`);
  const capped = checkKv(hardHistory(12), { maxConfigurations: 50_000 });
  t.equal(capped.verdict, 'unknown');
  t.match(capped.reason, /gave up after \d+ search configurations/);
  t.equal(checkKv(hardHistory(6)).verdict, 'not linearizable', 'small enough to finish');
});

t.test('a failing part is found even while another part is hard (parts interleave)', async (t) => {
  const hard = hardHistory(12).map((op) => ({ ...op, input: { ...op.input, key: 'hard' } }));
  const easyBad = [kv(50, 0, 1, { op: 'put', key: 'easy', value: 'v' }), kv(50, 2, 3, { op: 'get', key: 'easy' }, { value: 'w' })];
  const r = checkKv([...hard, ...easyBad], { timeoutMs: 20_000 });
  t.equal(r.verdict, 'not linearizable');
  t.match(r.window, /^key "easy"/);
  t.ok(r.elapsedMs < 5000, `found in ${r.elapsedMs.toFixed(0)} ms`);
});

t.test('generic check with a model whose hash collides: equal() keeps it exact', async (t) => {
  type In = { op: 'inc' } | { op: 'read' };
  const counter = (withEqual: boolean): Model<number, In, { value?: number }> => ({
    name: 'counter',
    init: () => 0,
    step: (s, i, o) => (i.op === 'inc' ? { ok: true, state: s + 1 } : { ok: o === undefined || o.value === s, state: s }),
    hash: () => 'same', // deliberately useless
    ...(withEqual ? { equal: (a: number, b: number) => a === b } : {}),
    describe: (i, o) => (i.op === 'inc' ? 'inc()' : `read() -> ${o?.value}`),
  });
  const h = (v: number): Operation<In, { value?: number }>[] => [
    { client: 0, call: 0, ret: 10, input: { op: 'inc' }, output: {} },
    { client: 1, call: 0, ret: 10, input: { op: 'inc' }, output: {} },
    { client: 2, call: 1, ret: 2, input: { op: 'read' }, output: { value: 1 } },
    { client: 2, call: 11, ret: 12, input: { op: 'read' }, output: { value: v } },
  ];
  t.equal(check(counter(true), h(2)).verdict, 'linearizable');
  t.equal(check(counter(true), h(3)).verdict, 'not linearizable');
  t.equal(check(counter(true), h(1)).verdict, 'not linearizable');
});

t.test('bitset hash follows set/clear; memo compares full bitsets and states', async (t) => {
  const b = new Bitset(100);
  t.equal(b.words.length, 4);
  t.equal(b.hash, 0);
  b.set(3);
  b.set(70);
  const h = b.hash;
  b.set(3); // idempotent
  t.equal(b.hash, h);
  t.ok(b.has(70));
  t.notOk(b.has(71));
  b.clear(70);
  b.clear(3);
  t.equal(b.hash, 0, 'XOR hash returns to empty');

  const memo = new Memo(b.words.length, 16);
  b.set(1);
  t.ok(memo.add(b, 0));
  t.notOk(memo.add(b, 0), 'same configuration');
  t.ok(memo.add(b, 1), 'same set, other state');
  b.set(99);
  t.ok(memo.add(b, 0), 'other set, same state');
  for (let i = 0; i < 100; i++) {
    b.clear(i);
  }
  let added = 0;
  for (let s = 0; s < 1000; s++) if (memo.add(b, s + 10)) added++; // grows past its initial size
  t.equal(added, 1000);
  t.equal(memo.size, 1003);
  t.notOk(memo.add(b, 500), 'still found after growing');
});
