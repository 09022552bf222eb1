import t from 'tap';
import { messageSchema } from '../../src/raft/messages.js';
import type { MessageType } from '../../src/raft/interface.js';
import { validate } from '../../src/wire/schema.js';
import { enc, TestCluster } from './helpers.js';

t.test('every message the core emits passes the wire schema, and all 12 types occur', async (t) => {
  const c = new TestCluster(['a', 'b', 'c'], { keepEntries: 0, snapshotChunkBytes: 3 });
  c.elect('a');
  c.isolate('c');
  for (let i = 0; i < 5; i++) c.propose('a', `v${i}`);
  c.get('a').compact(c.get('a').status.applied, enc('0123456789'));
  c.heal();
  c.tick(undefined, 3);
  c.get('b').propose(enc('fw'));
  c.get('b').readIndex(enc('r'));
  c.pump();
  c.get('a').transferLeadership('b');
  c.pump();
  const seen = new Set<MessageType>();
  for (const m of c.sent) {
    t.equal(validate(messageSchema, m), null, `${m.type} valid`);
    seen.add(m.type);
  }
  t.same([...seen].sort(), [
    'append', 'appendResp', 'heartbeat', 'heartbeatResp', 'propose', 'readIndex', 'readIndexResp',
    'snapshot', 'snapshotResp', 'timeoutNow', 'vote', 'voteResp',
  ]);
});

t.test('the schema names the first bad field', async (t) => {
  t.match(validate(messageSchema, { type: 'append', from: 'a', to: 'b', term: 1, prevIndex: 0, prevTerm: 0, entries: [{ term: 1, index: 1, type: 'x', data: enc('') }], commit: 0 }), /entries\[0\]\.type/);
  t.match(validate(messageSchema, { type: 'heartbeat', from: 'a', to: 'b', term: 0, commit: 0, readSeq: 0 }), /term/);
  t.match(validate(messageSchema, { type: 'bogus' }), /unknown variant/);
  t.match(validate(messageSchema, { type: 'vote', from: '', to: 'b', term: 1, pre: false, lastIndex: 0, lastTerm: 0, transfer: false }), /from/);
});
