/**
 * DELIBERATELY BROKEN BUILDS — not features.
 *
 * The chaos harness must prove it can see failures, so its self-test runs
 * nodes that break Shoal's durability promise on purpose and asserts that
 * the checkers fail. Everything here is test machinery: it reaches a node
 * only through the daemon's hooks (src/node/hooks.ts), from the harness's
 * own entry point (chaos-tests/cli/main.ts), when SHOAL_CHAOS_BREAK names a
 * mode. A node started by `shoal` cannot run any of it.
 *
 *   SHOAL_CHAOS_BREAK=ack-before-commit
 *       PUT /shoal/kv/{key} answers 200 at once and proposes in the
 *       background: a write is acknowledged before any quorum has it.
 *   SHOAL_CHAOS_BREAK=lose-tail[:N]
 *       Raft storage runs with synchronous=OFF and, when the node restarts,
 *       the last N (default 50) log entries are deleted before it boots —
 *       writes that were acknowledged but never made durable, as after a
 *       power cut with a lying disk. No recovery guard is set, so the node
 *       votes as if its log were whole. Membership entries (and everything
 *       before the last one) are kept, so the cluster can still elect a
 *       leader and go on serving — with the lost writes missing.
 */
import { ShoalError } from '../../src/util/errors.js';
import path from 'node:path';
import { existsSync } from 'node:fs';
import type { ManagerContext } from '../../src/manager/interface.js';
import type { StoreOp, TxnResult } from '../../src/manager/store/commands.js';
import type { SyncMode } from '../../src/raft/storage.js';
import { Db } from '../../src/util/sqlite.js';

export type BreakMode = { kind: 'ack-before-commit' } | { kind: 'lose-tail'; entries: number };

export class ChaosBreakError extends ShoalError<'BAD_BREAK_MODE'> {
  override readonly name = 'ChaosBreakError';
  readonly ns = 'chaos';
  constructor(message: string) {
    super('BAD_BREAK_MODE', message, { status: 400 });
  }
}

/** The broken build asked for, or null. */
export function breakMode(env: NodeJS.ProcessEnv = process.env): BreakMode | null {
  const v = env.SHOAL_CHAOS_BREAK;
  if (!v) return null;
  if (v === 'ack-before-commit') return { kind: 'ack-before-commit' };
  const m = /^lose-tail(?::(\d+))?$/.exec(v);
  if (m) return { kind: 'lose-tail', entries: m[1] ? Number(m[1]) : 50 };
  throw new ChaosBreakError(`SHOAL_CHAOS_BREAK must be ack-before-commit or lose-tail[:N], got ${JSON.stringify(v)}`);
}

/** Raft storage sync mode under a broken build (undefined = the safe default). */
export function breakRaftSync(mode: BreakMode | null): SyncMode | undefined {
  return mode?.kind === 'lose-tail' ? 'OFF' : undefined;
}

/**
 * ack-before-commit: the API sees a context whose commit of a lone kvPut
 * resolves at once with a made-up success, while the real proposal runs in
 * the background (and may fail, or land after reads that should see it).
 */
export function brokenApiContext(m: ManagerContext, mode: BreakMode | null, log: (msg: string) => void): ManagerContext {
  if (mode?.kind !== 'ack-before-commit') return m;
  const commit = (ops: StoreOp[]): Promise<TxnResult> => {
    const only = ops.length === 1 ? ops[0]! : null;
    if (only?.op !== 'kvPut') return m.commit(ops);
    m.commit(ops).catch((err: Error) => log(`chaos-break ack-before-commit: the acknowledged put of ${only.key} failed: ${err.message}`));
    return Promise.resolve({ ok: true, index: 0, changes: [], kv: [only.value] });
  };
  return {
    get store() {
      return m.store;
    },
    readBarrier: () => m.readBarrier(),
    commit,
    newId: () => m.newId(),
    now: () => m.now(),
    status: () => m.status(),
    promote: (id) => m.promote(id),
    demote: (id) => m.demote(id),
    removeNode: (id, force) => m.removeNode(id, force),
    ...(m.taskLogs ? { taskLogs: m.taskLogs.bind(m) } : {}),
    ...(m.dataKey ? { dataKey: m.dataKey.bind(m) } : {}),
  };
}

/**
 * lose-tail: before the manager boots, delete the last `entries` log
 * entries above the newest snapshot and pull the persisted commit index
 * back with them, leaving no trace for recovery to notice.
 */
export async function loseTail(dataDir: string, mode: BreakMode | null, log: (msg: string) => void): Promise<void> {
  if (mode?.kind !== 'lose-tail') return;
  const file = path.join(dataDir, 'raft.sqlite');
  if (!existsSync(file)) return;
  const db = await Db.open(file);
  try {
    let snapIdx = (await db.get<{ i: number | null }>('SELECT MAX(idx) AS i FROM snapshot'))?.i ?? 0;
    if (existsSync(`${file}.snapshots`)) {
      const s = await Db.open(`${file}.snapshots`);
      try {
        snapIdx = Math.max(snapIdx, (await s.get<{ i: number | null }>('SELECT MAX(idx) AS i FROM snapshot').catch(() => undefined))?.i ?? 0);
      } finally {
        await s.close();
      }
    }
    const last = (await db.get<{ i: number | null }>('SELECT MAX(idx) AS i FROM entries'))?.i ?? 0;
    const lastConf = (await db.get<{ i: number | null }>('SELECT MAX(idx) AS i FROM entries WHERE type = 1'))?.i ?? 0;
    const cutFrom = Math.max(snapIdx + 1, lastConf + 1, last - mode.entries + 1);
    if (last < cutFrom) return;
    await db.transaction([
      ['DELETE FROM entries WHERE idx >= ?', [cutFrom]],
      ['UPDATE hardstate SET cmt = MIN(cmt, ?) WHERE id = 1', [cutFrom - 1]],
    ]);
    log(`chaos-break lose-tail: DELIBERATELY dropped log entries ${cutFrom}..${last} before boot`);
  } finally {
    await db.close();
  }
}
