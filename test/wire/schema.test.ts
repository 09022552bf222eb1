import t from 'tap';
import { validate, object, uint, str, optional, bytes } from '../../src/wire/schema.js';
t.test('schema', async (t) => {
  const s = object({ a: uint(), b: optional(str({ max: 3 })), c: bytes() });
  t.equal(validate(s, { a: 1, c: Buffer.alloc(1) }), null);
  t.match(validate(s, { a: -1, c: Buffer.alloc(1) }), /^a: -1 out of range/);
  t.match(validate(s, { a: 1, b: 'abcd', c: Buffer.alloc(1) }), /^b: string length/);
  t.match(validate(s, { a: 1 }), /^c: required/);
});
