import t from 'tap';
import { DedupTable } from '../../src/raft/dedup.js';
import { seededRng } from '../../src/util/rng.js';

/** The table's contract, kept naively: every admitted seq, and the highest. */
class Model {
  private readonly seen = new Map<string, { max: number; all: Set<number> }>();
  admit(origin: string, seq: number): boolean {
    let o = this.seen.get(origin);
    if (!o) this.seen.set(origin, (o = { max: 0, all: new Set() }));
    if (seq <= o.max - 4_096 || o.all.has(seq)) return false;
    o.all.add(seq);
    o.max = Math.max(o.max, seq);
    return true;
  }
}

t.test('admit: repeats within the window are refused, anything a window below the highest seq counts as applied', async (t) => {
  const rng = seededRng(7);
  const table = new DedupTable();
  const model = new Model();
  let mismatches = 0;
  let refused = 0;
  let seq = 0;
  for (let i = 1; i <= 60_000; i++) {
    const origin = rng.next() < 0.9 ? 'a/1' : 'b/2';
    // Mostly increasing, with repeats and late, reordered seqs of every age.
    const r = rng.next();
    const s = r < 0.8 ? ++seq : r < 0.9 ? Math.max(1, seq - Math.floor(rng.next() * 50)) : Math.max(1, seq - Math.floor(rng.next() * 10_000));
    const got = table.admit(origin, s, i);
    if (got !== model.admit(origin, s)) mismatches++;
    if (!got) refused++;
    // A table restored from its image decides alike.
    if (i % 20_000 === 0) {
      const copy = DedupTable.fromImage(table.image());
      for (let k = 0; k < 200; k++) {
        const probe = Math.max(1, seq - Math.floor(rng.next() * 6_000));
        if (copy.admit('a/1', probe, i) !== table.admit('a/1', probe, i)) mismatches++;
        model.admit('a/1', probe);
      }
    }
  }
  t.equal(mismatches, 0, 'same decisions as the naive model');
  t.ok(refused > 1_000, `repeats were refused (${refused})`);
  const img = table.image();
  for (const [, max, recent] of img) t.ok(recent.every((s) => s > max - 4_096) && recent.length <= 4_096, 'the image holds one window');
});
