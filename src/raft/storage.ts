import { ShoalError } from '../util/errors.js';
import { Histogram, MS_BUCKETS } from '../util/histogram.js';
import { crc32 } from 'node:zlib';
import { Packr, Unpackr } from '../util/msgpack.js';
import { Db } from '../util/sqlite.js';
import type { ConfState, Entry, HardState, RaftBootState, Ready, Snapshot } from './interface.js';

/**
 * Durable Raft state on sqlite3: log entries, hard state and the latest
 * snapshot, in one database file per node.
 *
 * - WAL journal, `synchronous=FULL`: a Ready is persisted as ONE transaction
 *   (group commit) and `persist()` resolves only after that transaction is
 *   fsynced, so the driver never sends an acknowledgement for a write that a
 *   crash could take back.
 * - Every entry and the snapshot carry a CRC-32 over their contents, checked
 *   when the node boots.
 *
 * Recovery from a damaged log (see `load`): sqlite's own WAL checksums make a
 * torn transaction vanish whole, so what we can meet is a damaged or missing
 * tail of entries. We cut the log at the first bad entry, but every persisted
 * entry may already have been acknowledged to a leader — and Raft's safety
 * rests on a voter never forgetting an entry it acknowledged. So the cut is
 * paired with a persistent guard: until the node's log again reaches the old
 * last index (re-fetched from the leader), it neither votes nor campaigns.
 * Why that is enough: an entry e committed with this node in its quorum Q is
 * still on every other node of Q; any leader elected meanwhile needs a
 * majority V of votes, this node is not in V, and V ∩ Q ≠ ∅ holds a node
 * that has e — so the new leader has e (leader completeness is preserved).
 * A damaged snapshot, by contrast, cannot be cut around: boot fails with a
 * StorageCorruptError.
 */

export type SyncMode = 'FULL' | 'OFF';

export interface StorageOptions {
  /**
   * 'FULL' (the default and the only safe choice). 'OFF' exists solely so the
   * chaos harness can prove its checkers catch a node that acknowledges
   * writes it has not made durable.
   */
  sync?: SyncMode;
  /**
   * How often a second connection checkpoints the log's WAL into the
   * database file (PASSIVE: it never takes the write lock). sqlite's own
   * auto-checkpoint runs inside the COMMIT that crosses 1,000 WAL pages —
   * on the append path, where it copies ~4 MB and fsyncs the database file
   * while every waiting proposal waits too. Default 500 ms; 0 leaves
   * checkpointing to sqlite (auto-checkpoint on).
   */
  checkpointEveryMs?: number;
}

export interface LoadResult {
  boot: RaftBootState;
  /**
   * Non-zero when a damaged tail was cut: the node must neither vote nor
   * campaign until its last log index is at least this.
   */
  recoveryUntil: number;
  /** Human-readable account of what recovery did, for the log. */
  notes: string[];
}

export class StorageCorruptError extends ShoalError<'STORAGE_CORRUPT'> {
  override readonly name = 'StorageCorruptError';
  readonly ns = 'raft-storage';
  constructor(message: string) {
    super('STORAGE_CORRUPT', message, { status: 500 });
  }
}

export interface StorageMetrics {
  persists: number;
  entriesWritten: number;
  bytesWritten: number;
  /** Sum of persist() wall time, ms: divided by `persists` gives the mean fsync-bound latency. */
  persistMsTotal: number;
  persistMsMax: number;
}

const TYPE_CODE: Record<Entry['type'], number> = { normal: 0, conf: 1, noop: 2 };
const CODE_TYPE: Entry['type'][] = ['normal', 'conf', 'noop'];
/** Garbage log entries deleted per persist: small enough to add little to one transaction. */
const TRUNCATE_SLICE = 2_000;
/** Entries kept below a local snapshot after a restart (the core's keepEntries default). */
const KEEP_BELOW_SNAPSHOT = 500;
/** Rows per multi-row INSERT: 5 parameters each, far under sqlite's 32,766-variable limit. */
const ROWS_PER_INSERT = 400;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/**
 * zlib's crc32 returns 0 — not the running value — for an empty buffer whose
 * memory pointer is null (an empty Buffer from sqlite) yet the running value
 * for an empty view into a larger buffer (an empty entry decoded from a
 * frame). Skipping empty inputs makes the checksum depend on bytes only.
 */
function crcOver(data: Uint8Array, value: number): number {
  return data.byteLength === 0 ? value : crc32(data, value);
}

/** Scratch for entryCrc's header (filled and consumed synchronously). */
const crcHead = Buffer.allocUnsafe(17);

export function entryCrc(e: { index: number; term: number; type: Entry['type']; data: Uint8Array }): number {
  const head = crcHead;
  head.writeDoubleBE(e.index, 0);
  head.writeDoubleBE(e.term, 8);
  head[16] = TYPE_CODE[e.type];
  return crcOver(e.data, crc32(head));
}

function snapshotCrc(index: number, term: number, conf: Uint8Array, data: Uint8Array): number {
  const head = Buffer.allocUnsafe(16);
  head.writeDoubleBE(index, 0);
  head.writeDoubleBE(term, 8);
  return crcOver(data, crcOver(conf, crc32(head)));
}

interface EntryRow {
  idx: number;
  term: number;
  type: number;
  data: Buffer;
  crc: number;
}

export class RaftStorage {
  readonly metrics: StorageMetrics = { persists: 0, entriesWritten: 0, bytesWritten: 0, persistMsTotal: 0, persistMsMax: 0 };
  /** How long each Ready took to become durable (the transaction and its fsync, synchronous=FULL), ms. */
  readonly persistMs = new Histogram(MS_BUCKETS);
  private closed = false;
  /** Highest entry index on disk, so plain appends skip the DELETE of a conflicting suffix. */
  private lastIndex = 0;

  /**
   * Log entries below this index are garbage (a local snapshot covers
   * them): deleted a slice at a time inside later persists, never in one
   * long transaction that would hold up appends.
   */
  private truncateBelow = 0;
  private truncatedTo = 0;

  /**
   * Two sqlite files. `db` holds the log, the hard state and a snapshot
   * received from a leader (which must replace the log atomically, so it
   * lives in the same file). `snapDb` holds the snapshots this node takes of
   * its own state machine: writing a large one there (and fsyncing it) never
   * holds up log appends, which keeps a compaction from stalling commits.
   * Boot takes whichever of the two snapshots is newer.
   */
  private readonly checkpointTimer: NodeJS.Timeout | null = null;
  private checkpointing: Promise<void> | null = null;
  /** Background checkpoints that failed (the next one retries; the WAL just grows meanwhile). */
  checkpointFailures = 0;

  private constructor(
    private readonly db: Db,
    private readonly snapDb: Db,
    private readonly checkpointDb: Db | null,
    checkpointEveryMs: number,
  ) {
    if (checkpointDb) {
      this.checkpointTimer = setInterval(() => this.checkpoint(), checkpointEveryMs);
      this.checkpointTimer.unref();
    }
  }

  private checkpoint(): void {
    if (this.checkpointing || this.closed || !this.checkpointDb) return;
    this.checkpointing = this.checkpointDb
      .exec('PRAGMA wal_checkpoint(PASSIVE)')
      .catch(() => {
        this.checkpointFailures++;
      })
      .finally(() => {
        this.checkpointing = null;
      });
  }

  static async open(path: string, opts: StorageOptions = {}): Promise<RaftStorage> {
    const sync = opts.sync ?? 'FULL';
    const snapshotTable = 'CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1), idx INTEGER NOT NULL, term INTEGER NOT NULL, conf BLOB NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);';
    const db = await Db.open(path);
    await db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = ${sync};
      CREATE TABLE IF NOT EXISTS entries (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL, data BLOB NOT NULL, crc INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS hardstate (id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL, vote TEXT, cmt INTEGER NOT NULL);
      ${snapshotTable}
      CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
    `);
    const snapDb = await Db.open(`${path}.snapshots`);
    await snapDb.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${sync}; ${snapshotTable}`);
    const checkpointEveryMs = opts.checkpointEveryMs ?? 500;
    let checkpointDb: Db | null = null;
    if (checkpointEveryMs > 0) {
      // Durability is unchanged: every COMMIT is already fsynced in the WAL;
      // a checkpoint only moves committed pages into the main file.
      await db.exec('PRAGMA wal_autocheckpoint = 0');
      checkpointDb = await Db.open(path);
    }
    return new RaftStorage(db, snapDb, checkpointDb, checkpointEveryMs);
  }

  /**
   * Reads everything a restarted node needs. `founding` is the configuration
   * to found a new cluster with (used only when the store is empty; a node
   * joining an existing cluster passes an empty conf).
   */
  async load(founding: ConfState = { voters: [], learners: [] }): Promise<LoadResult> {
    const notes: string[] = [];
    const hs = await this.db.get<{ term: number; vote: string | null; cmt: number }>('SELECT term, vote, cmt FROM hardstate WHERE id = 1');
    let hardState: HardState = hs ? { term: hs.term, vote: hs.vote, commit: hs.cmt } : { term: 0, vote: null, commit: 0 };

    const received = await readSnapshot(this.db);
    const local = await readSnapshot(this.snapDb);
    const snapshot = !received ? local : !local ? received : local.meta.index >= received.meta.index ? local : received;
    const snapIndex = snapshot?.meta.index ?? 0;

    const rows = await this.db.all<EntryRow>('SELECT idx, term, type, data, crc FROM entries WHERE idx > ? ORDER BY idx', [snapIndex]);
    const entries: Entry[] = [];
    let cut = -1;
    let why = '';
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const expected = snapIndex + 1 + i;
      const type = CODE_TYPE[r.type];
      if (r.idx !== expected) {
        cut = expected;
        why = `gap: expected index ${expected}, found ${r.idx}`;
        break;
      }
      if (type === undefined || entryCrc({ index: r.idx, term: r.term, type, data: r.data }) !== r.crc >>> 0) {
        cut = r.idx;
        why = `entry ${r.idx} fails its checksum`;
        break;
      }
      entries.push({ index: r.idx, term: r.term, type, data: r.data });
    }

    let recoveryUntil = Number((await this.db.get<{ v: string }>("SELECT v FROM meta WHERE k = 'recovery_until'"))?.v ?? 0);
    if (cut >= 0) {
      const oldLast = rows[rows.length - 1]!.idx;
      recoveryUntil = Math.max(recoveryUntil, oldLast);
      const lastGood = cut - 1;
      if (hardState.commit > lastGood) hardState = { ...hardState, commit: Math.max(lastGood, snapIndex) };
      await this.db.transaction([
        ['DELETE FROM entries WHERE idx >= ?', [cut]],
        ["INSERT OR REPLACE INTO meta (k, v) VALUES ('recovery_until', ?)", [String(recoveryUntil)]],
        ['INSERT OR REPLACE INTO hardstate (id, term, vote, cmt) VALUES (1, ?, ?, ?)', [hardState.term, hardState.vote, hardState.commit]],
      ]);
      notes.push(
        `damaged log tail cut at index ${cut} (${why}); entries ${cut}..${oldLast} will be fetched again from the leader, ` +
          `and this node will not vote or campaign until its log reaches index ${recoveryUntil}`,
      );
    }
    this.lastIndex = Math.max(rows.length > 0 ? rows[rows.length - 1]!.idx : 0, snapIndex);
    // Whatever a local snapshot made garbage and a crash left behind.
    if (local && local === snapshot) {
      this.truncateBelow = Math.max(1, local.meta.index - KEEP_BELOW_SNAPSHOT);
      this.truncatedTo = (await this.db.get<{ m: number | null }>('SELECT MIN(idx) AS m FROM entries'))?.m ?? this.truncateBelow;
    }
    return {
      boot: { hardState, snapshot, entries, applied: snapIndex, conf: founding },
      recoveryUntil,
      notes,
    };
  }

  /** Makes a Ready durable: one transaction, fsynced before this resolves. No-op when nothing needs writing. */
  async persist(rd: Ready): Promise<void> {
    if (rd.snapshot === null && readyBytes(rd) <= INLINE_MAX_BYTES && (rd.hardState?.vote == null || PLAIN_TEXT.test(rd.hardState.vote))) return this.persistInline(rd);
    const stmts: [string, unknown[]][] = [];
    if (rd.snapshot) {
      // A received snapshot replaces the whole log (interface.ts): no garbage left to trim.
      stmts.push(['DELETE FROM entries', []]);
      this.truncatedTo = this.truncateBelow;
      stmts.push(this.snapshotStmt(rd.snapshot));
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      // A retried or overwriting Ready must replace what is there (a new
      // leader truncated our log, or a failed attempt half-landed).
      if (first <= this.lastIndex || rd.snapshot) stmts.push(['DELETE FROM entries WHERE idx >= ?', [first]]);
      for (let i = 0; i < rd.entries.length; i += ROWS_PER_INSERT) stmts.push(insertStmt(rd.entries.slice(i, i + ROWS_PER_INSERT)));
    }
    // A hard state that changed only its commit index need not be durable:
    // commit is re-learned from the leader. Writing it anyway with the next
    // synced batch keeps restarts replaying less.
    // A slice of garbage below the last local snapshot, if any is left.
    if (this.truncatedTo < this.truncateBelow && stmts.length > 0) {
      const to = Math.min(this.truncateBelow, this.truncatedTo + TRUNCATE_SLICE);
      stmts.push(['DELETE FROM entries WHERE idx >= ? AND idx < ?', [this.truncatedTo, to]]);
      this.truncatedTo = to;
    }
    if (rd.hardState && (rd.mustSync || stmts.length > 0)) {
      const h = rd.hardState;
      stmts.push(['INSERT OR REPLACE INTO hardstate (id, term, vote, cmt) VALUES (1, ?, ?, ?)', [h.term, h.vote, h.commit]]);
    }
    if (stmts.length === 0) return;
    const t0 = performance.now();
    // Until the transaction is known durable, assume anything may be on
    // disk: a retry must then DELETE before INSERT.
    const lastAfter = rd.entries.length > 0 ? rd.entries[rd.entries.length - 1]!.index : rd.snapshot ? rd.snapshot.meta.index : this.lastIndex;
    this.lastIndex = Math.max(this.lastIndex, lastAfter, rd.snapshot?.meta.index ?? 0);
    await this.db.transaction(stmts);
    this.lastIndex = lastAfter;
    this.account(rd, t0);
  }

  /**
   * The common Ready (entries and/or a hard state, no snapshot, modest
   * size) as ONE sqlite3_exec of literal SQL: BEGIN IMMEDIATE … COMMIT in a
   * single trip to the thread pool. The parameterised path costs a
   * prepare, a step and a finalize per statement, each a round trip
   * between the event loop and the pool (node-sqlite3 runs a serialized
   * connection's statements one after another): ~12 hops and their
   * callbacks per Ready. Same transaction, same fsynced COMMIT, so
   * durability is unchanged; only numbers and hex blobs are inlined (the
   * vote, a node id, is quoted).
   */
  private async persistInline(rd: Ready): Promise<void> {
    let sql = '';
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      if (first <= this.lastIndex) sql += `DELETE FROM entries WHERE idx >= ${int(first)};`;
      for (let i = 0; i < rd.entries.length; i += ROWS_PER_INSERT) sql += insertSql(rd.entries, i, Math.min(rd.entries.length, i + ROWS_PER_INSERT));
    }
    if (this.truncatedTo < this.truncateBelow && sql.length > 0) {
      const to = Math.min(this.truncateBelow, this.truncatedTo + TRUNCATE_SLICE);
      sql += `DELETE FROM entries WHERE idx >= ${int(this.truncatedTo)} AND idx < ${int(to)};`;
      this.truncatedTo = to;
    }
    if (rd.hardState && (rd.mustSync || sql.length > 0)) {
      const h = rd.hardState;
      sql += `INSERT OR REPLACE INTO hardstate (id, term, vote, cmt) VALUES (1, ${int(h.term)}, ${h.vote === null ? 'NULL' : quote(h.vote)}, ${int(h.commit)});`;
    }
    if (sql.length === 0) return;
    const t0 = performance.now();
    const lastAfter = rd.entries.length > 0 ? rd.entries[rd.entries.length - 1]!.index : this.lastIndex;
    this.lastIndex = Math.max(this.lastIndex, lastAfter);
    try {
      await this.db.exec(`BEGIN IMMEDIATE;${sql}COMMIT;`);
    } catch (err) {
      // exec stops at the first failing statement and leaves the
      // transaction open (or sqlite already rolled it back): end it, so the
      // retry starts clean. Nothing of it is assumed durable.
      await this.db.exec('ROLLBACK').catch(() => {});
      throw err;
    }
    this.lastIndex = lastAfter;
    this.account(rd, t0);
  }

  private account(rd: Ready, t0: number): void {
    const ms = performance.now() - t0;
    const m = this.metrics;
    m.persists++;
    m.entriesWritten += rd.entries.length;
    for (const e of rd.entries) m.bytesWritten += e.data.byteLength;
    m.persistMsTotal += ms;
    if (ms > m.persistMsMax) m.persistMsMax = ms;
    this.persistMs.observe(ms);
  }

  /**
   * Persists a snapshot the driver took (core.compact) and drops the log
   * below `keepFrom` (the core keeps a tail below the snapshot for slow
   * followers; so do we).
   */
  async saveSnapshot(snap: Snapshot, keepFrom: number): Promise<void> {
    await this.snapDb.transaction([this.snapshotStmt(snap)]);
    // Only once the snapshot is durable do the entries below it become garbage.
    if (this.truncatedTo === 0) this.truncatedTo = (await this.db.get<{ m: number | null }>('SELECT MIN(idx) AS m FROM entries'))?.m ?? keepFrom;
    this.truncateBelow = Math.max(this.truncateBelow, keepFrom);
  }

  /** The recovery guard is lifted once the log has caught up. */
  async clearRecovery(): Promise<void> {
    await this.db.run("DELETE FROM meta WHERE k = 'recovery_until'");
  }

  /** Small durable key/values for the node (identity, cluster id); not Raft state. */
  async getMeta(key: string): Promise<string | undefined> {
    return (await this.db.get<{ v: string }>('SELECT v FROM meta WHERE k = ?', [key]))?.v;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await this.db.transaction([['INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)', [key, value]]]);
  }

  /** For tests: the raw databases (to damage them on purpose). */
  get database(): Db {
    return this.db;
  }
  get snapshotDatabase(): Db {
    return this.snapDb;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.checkpointTimer) clearInterval(this.checkpointTimer);
    await this.checkpointing;
    await this.checkpointDb?.close();
    await this.db.close();
    await this.snapDb.close();
  }

  private snapshotStmt(s: Snapshot): [string, unknown[]] {
    const conf = packr.pack(s.meta.conf);
    return [
      'INSERT OR REPLACE INTO snapshot (id, idx, term, conf, data, crc) VALUES (1, ?, ?, ?, ?, ?)',
      [s.meta.index, s.meta.term, conf, Buffer.from(s.data.buffer, s.data.byteOffset, s.data.byteLength), snapshotCrc(s.meta.index, s.meta.term, conf, s.data)],
    ];
  }
}

async function readSnapshot(db: Db): Promise<Snapshot | null> {
  const sr = await db.get<{ idx: number; term: number; conf: Buffer; data: Buffer; crc: number }>('SELECT idx, term, conf, data, crc FROM snapshot WHERE id = 1');
  if (!sr) return null;
  if (snapshotCrc(sr.idx, sr.term, sr.conf, sr.data) !== sr.crc >>> 0) {
    throw new StorageCorruptError(`snapshot at index ${sr.idx} fails its checksum: this node's state cannot be trusted; remove its data directory and join it again`);
  }
  return { meta: { index: sr.idx, term: sr.term, conf: unpackr.unpack(sr.conf) as ConfState }, data: sr.data };
}

/** Readys up to this many payload bytes are written as inline SQL (hex doubles them); bigger ones bind parameters. */
const INLINE_MAX_BYTES = 256 << 10;

function readyBytes(rd: Ready): number {
  let n = 0;
  for (const e of rd.entries) n += e.data.byteLength;
  return n;
}

/** An integer literal; anything else is a bug upstream, refused rather than spliced into SQL. */
function int(n: number): string {
  if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer: ${n}`);
  return String(n);
}

/** Printable ASCII: safe to quote into SQL (a NUL would end exec's SQL text early). Other votes bind parameters. */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;

function quote(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

function insertSql(entries: Entry[], from: number, to: number): string {
  let sql = 'INSERT INTO entries (idx, term, type, data, crc) VALUES ';
  for (let i = from; i < to; i++) {
    const e = entries[i]!;
    const hex = Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength).toString('hex');
    sql += `${i === from ? '' : ','}(${int(e.index)},${int(e.term)},${TYPE_CODE[e.type]},X'${hex}',${entryCrc(e)})`;
  }
  return sql + ';';
}

function insertStmt(entries: Entry[]): [string, unknown[]] {
  const params: unknown[] = [];
  for (const e of entries) {
    params.push(e.index, e.term, TYPE_CODE[e.type], Buffer.from(e.data.buffer, e.data.byteOffset, e.data.byteLength), entryCrc(e));
  }
  return [`INSERT INTO entries (idx, term, type, data, crc) VALUES ${entries.map(() => '(?,?,?,?,?)').join(',')}`, params];
}
