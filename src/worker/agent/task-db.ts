import { Db } from '../../util/sqlite.js';
import type { Task, TaskState } from '../../model/index.js';

/**
 * What this node runs, durably (sqlite, synchronous=FULL): the assignment
 * each task came from, the runtime that runs it, and its last known state.
 * A restarted agent reads it to re-adopt running tasks instead of starting
 * duplicates, and to report what happened to tasks while it was down.
 */
export interface LocalTask {
  id: string;
  task: Task;
  runtime: string;
  state: TaskState;
  /** Set once the runtime created the task. */
  created: boolean;
  updatedMs: number;
}

/** The agent's durable record of its tasks: TaskDb on a node, an in-memory one in the whole-cluster simulation. */
export interface TaskStore {
  all(): Promise<LocalTask[]>;
  /** Durable before it resolves. */
  put(t: LocalTask): Promise<void>;
  remove(id: string): Promise<void>;
  close(): Promise<void>;
}

interface Row {
  id: string;
  task: string;
  runtime: string;
  state: string;
  created: number;
  updated_ms: number;
}

export class TaskDb implements TaskStore {
  /**
   * Group commit: writes from every task controller that arrive while a
   * transaction is in flight go into the next one, so a node starting many
   * tasks at once pays a few fsyncs, not one per task per state.
   */
  private queue: { stmt: [string, unknown[]]; resolve: () => void; reject: (e: Error) => void }[] = [];
  private flushing: Promise<void> | null = null;
  private closed = false;

  private constructor(private readonly db: Db) {}

  static async open(path: string): Promise<TaskDb> {
    const db = await Db.open(path);
    await db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, task TEXT NOT NULL, runtime TEXT NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
    `);
    return new TaskDb(db);
  }

  async all(): Promise<LocalTask[]> {
    const rows = await this.db.all<Row>('SELECT * FROM tasks');
    return rows.map((r) => ({ id: r.id, task: JSON.parse(r.task) as Task, runtime: r.runtime, state: r.state as TaskState, created: r.created === 1, updatedMs: r.updated_ms }));
  }

  /** Durable before it resolves: the agent records a task before the runtime creates it. */
  put(t: LocalTask): Promise<void> {
    return this.enqueue(['INSERT OR REPLACE INTO tasks (id, task, runtime, state, created, updated_ms) VALUES (?, ?, ?, ?, ?, ?)', [t.id, JSON.stringify(t.task), t.runtime, t.state, t.created ? 1 : 0, t.updatedMs]]);
  }

  remove(id: string): Promise<void> {
    return this.enqueue(['DELETE FROM tasks WHERE id = ?', [id]]);
  }

  private enqueue(stmt: [string, unknown[]]): Promise<void> {
    if (this.closed) return Promise.reject(new Error('task db closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ stmt, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      try {
        await this.db.transaction(batch.map((b) => b.stmt));
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err as Error);
      }
    }
    this.flushing = null;
  }

  /** Waits for queued writes, then closes. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.db.close();
  }
}
