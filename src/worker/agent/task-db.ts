import { Db } from '../../util/sqlite.js';
import type { Task, TaskState } from '../../manager/store/types.js';

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

interface Row {
  id: string;
  task: string;
  runtime: string;
  state: string;
  created: number;
  updated_ms: number;
}

export class TaskDb {
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
  async put(t: LocalTask): Promise<void> {
    await this.db.transaction([
      ['INSERT OR REPLACE INTO tasks (id, task, runtime, state, created, updated_ms) VALUES (?, ?, ?, ?, ?, ?)', [t.id, JSON.stringify(t.task), t.runtime, t.state, t.created ? 1 : 0, t.updatedMs]],
    ]);
  }

  async remove(id: string): Promise<void> {
    await this.db.transaction([['DELETE FROM tasks WHERE id = ?', [id]]]);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
