import sqlite3 from 'sqlite3';

/**
 * A thin promise wrapper over node-sqlite3 (async: statements run on
 * libuv's thread pool, so an fsync never blocks the event loop).
 *
 * The connection is put in serialized mode: statements execute in the order
 * they are issued. That lets a caller queue a whole transaction
 * (BEGIN … COMMIT) without awaiting each statement, and await only the last.
 */
export class Db {
  private constructor(readonly raw: sqlite3.Database) {}

  static open(path: string): Promise<Db> {
    return new Promise((resolve, reject) => {
      const raw = new sqlite3.Database(path, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE, (err) => {
        if (err) return reject(err);
        raw.serialize();
        resolve(new Db(raw));
      });
    });
  }

  run(sql: string, params: unknown[] = []): Promise<{ changes: number; lastID: number }> {
    return new Promise((resolve, reject) => {
      this.raw.run(sql, params, function (this: sqlite3.RunResult, err: Error | null) {
        if (err) reject(err);
        else resolve({ changes: this.changes, lastID: this.lastID });
      });
    });
  }

  get<T>(sql: string, params: unknown[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => {
      this.raw.get(sql, params, (err: Error | null, row: T) => (err ? reject(err) : resolve(row)));
    });
  }

  all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => {
      this.raw.all(sql, params, (err: Error | null, rows: T[]) => (err ? reject(err) : resolve(rows)));
    });
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.raw.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Runs `statements` as one transaction and resolves once COMMIT is
   * durable. The statements are queued without awaiting each (serialized
   * mode keeps their order), so a batch costs one round trip to the thread
   * pool rather than one per statement.
   *
   * If any statement fails, this rejects with the first error — but, as the
   * COMMIT was queued before the failure was known, what did succeed may be
   * committed. Callers must therefore make their transactions safe to redo
   * (Raft storage does: it deletes from the first index it writes, and
   * retries the whole Ready) and must treat a rejection as "not durable".
   */
  async transaction(statements: [sql: string, params: unknown[]][]): Promise<void> {
    let firstError: Error | null = null;
    const note = (e: Error | null) => {
      if (e && !firstError) firstError = e;
    };
    this.raw.run('BEGIN IMMEDIATE', note);
    for (const [sql, params] of statements) this.raw.run(sql, params, note);
    try {
      await this.run('COMMIT');
    } catch (err) {
      await this.run('ROLLBACK').catch(() => {});
      throw firstError ?? err;
    }
    if (firstError) throw firstError;
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.raw.close((err) => (err ? reject(err) : resolve())));
  }
}
