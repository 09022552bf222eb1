import t from 'tap';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RaftStorage, StorageCorruptError } from '../../src/raft/storage.js';
import type { Entry, Ready } from '../../src/raft/interface.js';
import { payloadFor } from './fixtures/payload.js';
import { distFile } from '../helpers/dist.js';
import { seededRng } from '../../src/util/rng.js';

const dir = mkdtempSync(path.join(tmpdir(), 'shoal-storage-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const fresh = () => path.join(dir, `db${++n}.sqlite`);

function ready(p: Partial<Ready>): Ready {
  return { softState: null, hardState: null, entries: [], snapshot: null, messages: [], committed: [], readStates: [], refused: [], mustSync: true, ...p };
}
const entries = (from: number, to: number, term = 1): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ index: from + i, term, type: 'normal' as const, data: payloadFor(from + i) }));

t.test('persist and load: entries, hard state, overwrite of a conflicting suffix, snapshot', async (t) => {
  const p = fresh();
  let s = await RaftStorage.open(p);
  await s.persist(ready({ hardState: { term: 2, vote: 'b', commit: 3 }, entries: entries(1, 10) }));
  await s.persist(ready({ entries: entries(7, 8, 2) })); // a new leader overwrote 7.. with term 2
  await s.close();
  s = await RaftStorage.open(p);
  let { boot, recoveryUntil } = await s.load();
  t.same(boot.hardState, { term: 2, vote: 'b', commit: 3 });
  t.same(boot.entries.map((e) => [e.index, e.term]), [[1, 1], [2, 1], [3, 1], [4, 1], [5, 1], [6, 1], [7, 2], [8, 2]], 'the suffix from 7 was replaced');
  t.same(Buffer.from(boot.entries[6]!.data), payloadFor(7));
  t.equal(recoveryUntil, 0);
  await s.saveSnapshot({ meta: { index: 6, term: 1, conf: { voters: ['a', 'b'], learners: [] } }, data: Buffer.from('state@6') }, 5);
  await s.close();
  s = await RaftStorage.open(p);
  ({ boot } = await s.load());
  t.equal(boot.snapshot?.meta.index, 6);
  t.same(boot.snapshot?.meta.conf, { voters: ['a', 'b'], learners: [] });
  t.equal(Buffer.from(boot.snapshot!.data).toString(), 'state@6');
  t.equal(boot.applied, 6);
  t.same(boot.entries.map((e) => e.index), [7, 8], 'entries above the snapshot');
  // A received snapshot replaces the whole log.
  await s.persist(ready({ snapshot: { meta: { index: 20, term: 3, conf: { voters: ['a'], learners: [] } }, data: Buffer.from('s20') }, hardState: { term: 3, vote: null, commit: 20 } }));
  await s.close();
  s = await RaftStorage.open(p);
  ({ boot } = await s.load());
  t.equal(boot.snapshot?.meta.index, 20);
  t.same(boot.entries, []);
  await s.close();
});

t.test('a damaged log tail is cut, and the node is told not to vote until it has caught up', async (t) => {
  const p = fresh();
  let s = await RaftStorage.open(p);
  await s.persist(ready({ hardState: { term: 1, vote: 'a', commit: 20 }, entries: entries(1, 20) }));
  // Flip a byte of entry 18's payload behind the checksum's back.
  await s.database.run('UPDATE entries SET data = ? WHERE idx = 18', [Buffer.from('bit rot')]);
  await s.close();
  s = await RaftStorage.open(p);
  const { boot, recoveryUntil, notes } = await s.load();
  t.same(boot.entries.map((e) => e.index), Array.from({ length: 17 }, (_, i) => i + 1), 'log cut before the bad entry');
  t.equal(recoveryUntil, 20, 'no votes until the log again reaches the old last index');
  t.equal(boot.hardState.commit, 17, 'commit lowered to what is still held');
  t.match(notes[0], /entry 18 fails its checksum/);
  await s.close();
  // The guard survives a restart until cleared.
  s = await RaftStorage.open(p);
  t.equal((await s.load()).recoveryUntil, 20);
  await s.clearRecovery();
  t.equal((await s.load()).recoveryUntil, 0);
  await s.close();
});

t.test('a gap in the log is cut the same way', async (t) => {
  const p = fresh();
  const s = await RaftStorage.open(p);
  await s.persist(ready({ hardState: { term: 1, vote: 'a', commit: 5 }, entries: entries(1, 12) }));
  await s.database.run('DELETE FROM entries WHERE idx = 9');
  const { boot, recoveryUntil } = await s.load();
  t.equal(boot.entries.at(-1)?.index, 8);
  t.equal(recoveryUntil, 12);
  await s.close();
});

t.test('a damaged snapshot refuses to boot', async (t) => {
  const p = fresh();
  const s = await RaftStorage.open(p);
  await s.saveSnapshot({ meta: { index: 5, term: 1, conf: { voters: ['a'], learners: [] } }, data: Buffer.from('good state') }, 1);
  await s.snapshotDatabase.run('UPDATE snapshot SET data = ?', [Buffer.from('evil state')]);
  await t.rejects(s.load(), StorageCorruptError);
  await s.close();
});

t.test('kill -9 mid-stream: every acknowledged entry survives, intact', async (t) => {
  const p = fresh();
  const rng = seededRng(1234);
  let next = 1;
  for (let round = 0; round < 5; round++) {
    const proc = spawn(process.execPath, [distFile('test/raft/fixtures/storage-writer.js'), p, String(next)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, NODE_OPTIONS: '' },
    });
    let acked = next - 1;
    const want = acked + 50 + rng.int(200);
    await new Promise<void>((resolve) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        const m = /^acked (\d+)$/.exec(line);
        if (m) acked = Number(m[1]);
        if (acked >= want && proc.exitCode === null) {
          proc.kill('SIGKILL');
        }
      });
      proc.once('exit', () => resolve());
    });
    const s = await RaftStorage.open(p);
    const { boot, recoveryUntil } = await s.load();
    await s.close();
    t.equal(recoveryUntil, 0, `round ${round}: no damage after kill -9`);
    const last = boot.entries.at(-1)?.index ?? 0;
    t.ok(last >= acked, `round ${round}: last durable index ${last} >= last acknowledged ${acked}`);
    const bad = boot.entries.filter((e) => !Buffer.from(e.data).equals(payloadFor(e.index)));
    t.equal(bad.length, 0, `round ${round}: every entry's bytes intact`);
    t.ok(boot.entries.every((e, i) => e.index === i + 1), 'contiguous from 1');
    next = last + 1;
  }
});

t.test('a local snapshot lives in its own file; old entries are trimmed a slice at a time; the newer snapshot wins at boot', async (t) => {
  const p = fresh();
  let s = await RaftStorage.open(p);
  await s.persist(ready({ hardState: { term: 1, vote: 'a', commit: 5000 }, entries: entries(1, 5000) }));
  await s.saveSnapshot({ meta: { index: 4500, term: 1, conf: { voters: ['a'], learners: [] } }, data: Buffer.from('local@4500') }, 4001);
  const count = async () => (await s.database.get<{ n: number }>('SELECT COUNT(*) AS n FROM entries'))!.n;
  t.equal(await count(), 5000, 'saving the snapshot did not touch the log');
  await s.persist(ready({ entries: entries(5001, 5001) }));
  t.equal(await count(), 5001 - 2000, 'the next append trimmed one slice of garbage');
  await s.persist(ready({ entries: entries(5002, 5002) }));
  t.equal(await count(), 5002 - 4000, 'and the next another, down to the kept tail');
  await s.close();
  s = await RaftStorage.open(p);
  let { boot } = await s.load();
  t.equal(Buffer.from(boot.snapshot!.data).toString(), 'local@4500');
  t.equal(boot.entries[0]?.index, 4501);
  // A snapshot received from a leader, newer than the local one, wins — and replaces the log.
  await s.persist(ready({ snapshot: { meta: { index: 9000, term: 2, conf: { voters: ['a'], learners: [] } }, data: Buffer.from('received@9000') }, hardState: { term: 2, vote: null, commit: 9000 } }));
  await s.close();
  s = await RaftStorage.open(p);
  ({ boot } = await s.load());
  t.equal(Buffer.from(boot.snapshot!.data).toString(), 'received@9000');
  t.same(boot.entries, []);
  await s.close();
});

t.test('empty entries (leader no-ops) verify however their bytes were allocated', async (t) => {
  const p = fresh();
  const s = await RaftStorage.open(p);
  const big = Buffer.from('frame-bytes');
  await s.persist(ready({
    hardState: { term: 2, vote: 'a', commit: 2 },
    entries: [
      { index: 1, term: 2, type: 'noop', data: new Uint8Array(0) },
      { index: 2, term: 2, type: 'noop', data: big.subarray(3, 3) }, // as decoded from a received frame
    ],
  }));
  const { boot, recoveryUntil } = await s.load();
  t.equal(boot.entries.length, 2);
  t.equal(recoveryUntil, 0);
  await s.close();
});

t.test('a background connection checkpoints the WAL (auto-checkpoint is off on the append path)', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-ckpt-'));
  const file = path.join(dir, 'raft.sqlite');
  const s = await RaftStorage.open(file, { checkpointEveryMs: 50 });
  t.teardown(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const db = s.database;
  t.same(await db.get('PRAGMA wal_autocheckpoint'), { wal_autocheckpoint: 0 }, 'no checkpoint inside a COMMIT');
  const before = statSync(file).size;
  await db.transaction(Array.from({ length: 2000 }, (_, i) => ['INSERT INTO meta (k, v) VALUES (?, ?)', [`k${i}`, 'x'.repeat(500)]] as [string, unknown[]]));
  const deadline = Date.now() + 10_000;
  while (statSync(file).size <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.ok(statSync(file).size > before, 'committed pages reached the database file without an automatic checkpoint');
  t.equal(s.checkpointFailures, 0);
});
