/**
 * Wire schemas of every gossip message and the size model used to fill
 * datagrams (checked against msgpackr's actual encoding).
 */
import t from 'tap';
import { Packr } from '../../src/util/msgpack.js';
import { validate } from '../../src/wire/schema.js';
import { compoundSchema, gossipMessageSchema, pushPullStateSchema } from '../../src/gossip/messages.js';
import type { GossipMessage, PushPullState } from '../../src/gossip/interface.js';
import { encodedSize, messageSize, utf8Length } from '../../src/gossip/size.js';
import { META } from './sim/mini.js';

const samples: GossipMessage[] = [
  { type: 'ping', seq: 1, from: 'n1', target: 'n2' },
  { type: 'pingReq', seq: 70_000, from: 'n1', target: 'n2', targetAddr: '[fe80::1]:4242', nack: true },
  { type: 'ack', seq: 2 ** 33, from: 'n1' },
  { type: 'nack', seq: 300, from: 'n1' },
  { type: 'alive', id: 'node-123', inc: 300, addr: '10.0.0.1:4242', clusterAddr: '10.0.0.1:4242', role: 'manager', meta: META },
  { type: 'alive', id: 'ünïcødé', inc: 1, addr: 'a:1', clusterAddr: 'a:2', role: 'worker', meta: { resources: { nanoCpus: 1.5e9, memoryBytes: 2 ** 40 }, labels: { 'région': '🌍'.repeat(10) } } },
  { type: 'suspect', id: 'x', inc: 0, from: 'y' },
  { type: 'dead', id: 'x'.repeat(40), inc: 100_000, from: 'x'.repeat(40) },
  { type: 'user', origin: 'o', epoch: 0xffffffff, seq: 5, payload: new Uint8Array(300) },
];

t.test('every message type validates, and so does a compound', async (t) => {
  for (const m of samples) t.equal(validate(gossipMessageSchema, m), null, m.type);
  t.equal(validate(compoundSchema, { type: 'compound', msgs: samples }), null);
  const pp: PushPullState = {
    type: 'pushPull',
    from: 'a',
    join: true,
    members: [{ id: 'a', addr: 'a:1', clusterAddr: 'a:1', role: 'worker', meta: META, state: 'suspect', inc: 3 }],
  };
  t.equal(validate(pushPullStateSchema, pp), null);
});

t.test('malformed messages are rejected with the offending field', async (t) => {
  t.match(validate(gossipMessageSchema, { type: 'pong', seq: 1 }), /type: unknown variant/);
  t.match(validate(gossipMessageSchema, { type: 'ping', seq: -1, from: 'a', target: 'b' }), /^seq/);
  t.match(validate(gossipMessageSchema, { type: 'ack', seq: 1 }), /^from: required/);
  t.match(validate(gossipMessageSchema, { type: 'alive', id: 'a', inc: 1, addr: 'x', clusterAddr: 'x', role: 'boss', meta: META }), /^role/);
  t.match(validate(gossipMessageSchema, { type: 'user', origin: 'a', epoch: 1, seq: 1, payload: new Uint8Array(5000) }), /^payload/);
  t.match(validate(gossipMessageSchema, { type: 'suspect', id: '', inc: 1, from: 'b' }), /^id/);
  t.match(validate(compoundSchema, { type: 'compound', msgs: [] }), /msgs: array length/);
  t.match(validate(pushPullStateSchema, { type: 'pushPull', from: 'a', join: false, members: [{ id: 'b', state: 'zombie' }] }), /members\[0\]/);
});

t.test('size model: exact msgpackr size (maps), an upper bound of records', async (t) => {
  const plain = new Packr({ useRecords: false });
  for (const m of samples) {
    t.equal(messageSize(m), encodedSize(m), `${m.type}: specialised = generic`);
    t.equal(encodedSize(m), plain.pack(m).length, `${m.type}: = msgpackr`);
  }
  const packet = samples.slice(0, 5);
  const shared = new Packr({ useRecords: true, structures: [] });
  shared.pack(packet); // warm the shared structures, as a long-lived transport would
  t.ok(shared.pack(packet).length < packet.reduce((n, m) => n + messageSize(m), 0), 'records with shared structures are smaller');
  t.equal(utf8Length('aé€😀'), 1 + 2 + 3 + 4);
});
