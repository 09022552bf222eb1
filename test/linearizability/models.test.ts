import t from 'tap';
import { casRegisterModel, kvModel } from '../../chaos-tests/linearizability/index.js';
import { kv } from './helpers.js';

t.test('kv model: missing key reads as "", put replaces, append concatenates', async (t) => {
  const m = kvModel;
  const s0 = m.init();
  t.equal(s0, '');
  t.ok(m.step(s0, { op: 'get', key: 'a' }, { value: '' }).ok);
  t.notOk(m.step(s0, { op: 'get', key: 'a' }, { value: 'x' }).ok);
  const s1 = m.step(s0, { op: 'put', key: 'a', value: 'x' }, {}).state;
  t.equal(s1, 'x');
  const s2 = m.step(s1, { op: 'append', key: 'a', value: 'yz' }, {}).state;
  t.equal(s2, 'xyz');
  t.ok(m.step(s2, { op: 'get', key: 'a' }, { value: 'xyz' }).ok);
  t.equal(m.step(s2, { op: 'get', key: 'a' }, { value: 'xyz' }).state, s2, 'get leaves the state alone');
  t.ok(m.step(s2, { op: 'get', key: 'a' }, undefined).ok, 'unknown output matches anything');
  t.equal(m.hash('abc'), 'abc');
});

t.test('kv model partitions by key, keeping each key\'s order', async (t) => {
  const ops = [
    kv(0, 1, 2, { op: 'put', key: 'a', value: '1' }),
    kv(1, 1, 3, { op: 'put', key: 'b', value: '2' }),
    kv(0, 4, 5, { op: 'get', key: 'a' }, { value: '1' }),
  ];
  const parts = kvModel.partition!(ops);
  t.equal(parts.length, 2);
  t.same(parts[0], [ops[0], ops[2]]);
  t.same(parts[1], [ops[1]]);
  t.equal(kvModel.describePartition!(parts[1]), 'key "b"');
  t.equal(kvModel.describe({ op: 'get', key: 'a' }, { value: 'q' }), 'get("a") -> "q"');
  t.equal(kvModel.describe({ op: 'append', key: 'a', value: 'v' }, {}), 'append("a", "v")');
});

t.test('cas-register model', async (t) => {
  const m = casRegisterModel;
  const s0 = m.init();
  t.equal(s0, null, 'starts as nil');
  t.ok(m.step(s0, { op: 'read' }, { value: null }).ok);
  t.notOk(m.step(s0, { op: 'read' }, { value: 0 }).ok, 'nil is not 0');
  t.equal(m.step(s0, { op: 'write', value: 3 }, {}).state, 3);

  t.same(m.step(3, { op: 'cas', from: 3, to: 4 }, { ok: true }), { ok: true, state: 4 });
  t.notOk(m.step(2, { op: 'cas', from: 3, to: 4 }, { ok: true }).ok, 'cannot swap from a value not held');
  t.same(m.step(2, { op: 'cas', from: 3, to: 4 }, { ok: false }), { ok: true, state: 2 }, 'failed comparison: legal when not held');
  t.notOk(m.step(3, { op: 'cas', from: 3, to: 4 }, { ok: false }).ok, 'failed comparison is illegal when held');
  t.notOk(m.step(null, { op: 'cas', from: 0, to: 1 }, { ok: true }).ok, 'nil never equals a number');

  // Unknown outcome: took effect (the state decides the swap) — "never" is handled by the search.
  t.same(m.step(3, { op: 'cas', from: 3, to: 4 }, undefined), { ok: true, state: 4 });
  t.same(m.step(2, { op: 'cas', from: 3, to: 4 }, undefined), { ok: true, state: 2 });
  t.ok(m.step(2, { op: 'read' }, undefined).ok);

  t.equal(m.hash(null), 'nil');
  t.equal(m.hash(0), '0');
  t.not(m.hash(null), m.hash(0));
  t.equal(m.describe({ op: 'cas', from: 1, to: 2 }, { ok: false }), 'cas(1, 2) -> fail');
  t.equal(m.describe({ op: 'read' }, { value: null }), 'read() -> nil');
  t.equal(m.describe({ op: 'write', value: 5 }, undefined), 'write(5)');
});
