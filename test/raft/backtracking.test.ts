import t from 'tap';
import { RaftCore } from '../../src/raft/core.js';
import type { AppendRespMsg, Entry, Message } from '../../src/raft/interface.js';
import { seededRng } from '../../src/util/rng.js';
import { encodeConfChange } from '../../src/raft/confchange.js';

const founding: Entry[] = ['a', 'b', 'c'].map((node, i) => ({
  term: 1,
  index: i + 1,
  type: 'conf',
  data: encodeConfChange({ type: 'addVoter', node }),
}));

function run(...terms: number[]): Entry[] {
  const out: Entry[] = [];
  let index = founding.length;
  for (const term of terms) out.push({ term, index: ++index, type: 'normal', data: new Uint8Array([term]) });
  return out;
}

function node(id: string, entries: Entry[], term: number, opts = {}): RaftCore {
  return new RaftCore({
    id,
    rng: seededRng(id.charCodeAt(0)),
    options: { preVote: false, checkQuorum: false, ...opts },
    boot: {
      hardState: { term, vote: null, commit: 3 },
      snapshot: null,
      entries: [...founding, ...entries],
      applied: 3,
      conf: { voters: [], learners: [] },
    },
  });
}

/** Delivers messages between two cores until quiet; returns every message. */
function exchange(a: RaftCore, b: RaftCore): Message[] {
  const all: Message[] = [];
  for (let i = 0; i < 1000; i++) {
    let busy = false;
    for (const n of [a, b]) {
      while (n.hasReady()) {
        const rd = n.ready();
        n.advance(rd);
        for (const m of rd.messages) {
          all.push(m);
          busy = true;
          if (m.to === a.id) a.step(m);
          if (m.to === b.id) b.step(m);
        }
      }
    }
    if (!busy) break;
  }
  return all;
}

t.test('fast backtracking skips a whole conflicting term per round trip', async (t) => {
  // Follower b holds 40 entries of terms 2 and 3 that the leader never had; the
  // leader's log has 30 entries of term 4 after the common prefix.
  const a = node('a', run(...Array(30).fill(4)), 4);
  const b = node('b', run(...Array(20).fill(2), ...Array(20).fill(3)), 3);
  while (a.status.role !== 'leader') {
    a.tick();
    while (a.hasReady()) {
      const rd = a.ready();
      a.advance(rd);
      for (const m of rd.messages) if (m.to === 'b') b.step(m);
    }
    while (b.hasReady()) {
      const rd = b.ready();
      b.advance(rd);
      for (const m of rd.messages) if (m.to === 'a') a.step(m);
    }
  }
  const msgs = exchange(a, b);
  const rejects = msgs.filter((m): m is AppendRespMsg => m.type === 'appendResp' && m.reject);
  t.ok(rejects.length <= 2, `${rejects.length} rejections to find the match point across 40 divergent entries`);
  t.equal(b.status.lastIndex, a.status.lastIndex);
  for (let i = 1; i <= a.status.lastIndex; i++) t.equal(b.termAt(i), a.termAt(i), `index ${i} matches`);
});

t.test('a rejection carries the conflicting term and the first index of that term', async (t) => {
  const b = node('b', run(2, 2, 3, 3, 3), 3);
  b.step({ type: 'append', from: 'a', to: 'b', term: 5, prevIndex: 7, prevTerm: 4, entries: [], commit: 3 });
  const rd = b.ready();
  t.match(rd.messages, [{ type: 'appendResp', reject: true, index: 7, hintTerm: 3, hintIndex: 6 }]);
  b.advance(rd);
  b.step({ type: 'append', from: 'a', to: 'b', term: 5, prevIndex: 20, prevTerm: 4, entries: [], commit: 3 });
  t.match(b.ready().messages, [{ type: 'appendResp', reject: true, index: 20, hintTerm: 0, hintIndex: 9 }], 'a short log says where it ends');
});
