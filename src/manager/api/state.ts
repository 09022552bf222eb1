/**
 * How handlers reach the replicated state: every read goes through the
 * ReadIndex barrier first (so a follower never answers with state older than
 * a write the client already saw acknowledged), every write is one
 * transaction through ctx.commit. Failures come back as ApiErrors.
 */
import type { ManagerContext } from '../interface.js';
import type { Change, StoreOp } from '../store/commands.js';
import type { Store } from '../store/store.js';
import { fromStoreVerdict, toApiError } from './errors.js';

export async function readStore(ctx: ManagerContext): Promise<Store> {
  try {
    await ctx.readBarrier();
  } catch (err) {
    throw toApiError(err);
  }
  return ctx.store;
}

export interface Committed {
  index: number;
  changes: Change[];
}

export async function commitOps(ctx: ManagerContext, ops: StoreOp[]): Promise<Committed> {
  let res;
  try {
    res = await ctx.commit(ops);
  } catch (err) {
    throw toApiError(err);
  }
  if (!res.ok) throw fromStoreVerdict(res.code, res.message, res.field);
  return { index: res.index, changes: res.changes };
}

/** Runs a ManagerContext call (promote, removeNode, …), mapping its failure. */
export async function call<T>(p: () => Promise<T>): Promise<T> {
  try {
    return await p();
  } catch (err) {
    throw toApiError(err);
  }
}
