import { defineMessage } from '../wire/registry.js';
import { messageSchema } from './messages.js';
import type { Message } from './interface.js';

/**
 * The one wire type Raft uses between managers: a one-way frame carrying a
 * core Message. Raft tolerates loss and reordering, so no request/response:
 * replies are Messages too.
 */
export const RaftWire = defineMessage<Message>({
  name: 'raft.msg',
  version: 1,
  body: messageSchema,
  samples: () => {
    const base = { from: 'm1', to: 'm2', term: 3 };
    const entry = { term: 3, index: 7, type: 'normal' as const, data: Buffer.from('put k v') };
    const conf = { voters: ['m1', 'm2', 'm3'], learners: ['m4'] };
    return [
      { type: 'append', ...base, prevIndex: 6, prevTerm: 2, entries: [entry], commit: 5 },
      { type: 'appendResp', ...base, index: 7, reject: false, hintIndex: 0, hintTerm: 0 },
      { type: 'heartbeat', ...base, commit: 7, readSeq: 2 },
      { type: 'heartbeatResp', ...base, readSeq: 2 },
      { type: 'vote', ...base, pre: true, lastIndex: 7, lastTerm: 3, transfer: false },
      { type: 'voteResp', ...base, pre: true, reject: false },
      { type: 'snapshot', ...base, meta: { index: 100, term: 3, conf }, offset: 0, total: 4, data: Buffer.from('snap') },
      { type: 'snapshotResp', ...base, index: 100, offset: 4 },
      { type: 'timeoutNow', ...base },
      { type: 'propose', ...base, entries: [Buffer.from('cmd')] },
      { type: 'propose', ...base, entries: [Buffer.from('cmd'), Buffer.from('cmd2')], refs: [Buffer.from('m2/1a2b3c4d#1'), Buffer.alloc(0)] },
      { type: 'proposeRefused', ...base, code: 'UNCOMMITTED_CAP', reason: 'cap of 1000 bytes', refs: [Buffer.from('m2/1a2b3c4d#1')] },
      { type: 'readIndex', ...base, ctx: Buffer.from('r1') },
      { type: 'readIndexResp', ...base, index: 7, ctx: Buffer.from('r1') },
    ] as Message[];
  },
});
