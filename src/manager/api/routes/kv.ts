/**
 * Shoal's own linearizable key/value space (not part of Docker's API), for
 * clients and the chaos harness:
 *
 *   GET  /shoal/kv/{key}          → {"value"} after a ReadIndex barrier; 404 when absent.
 *                                   `?local=true` skips the barrier and answers from this
 *                                   manager's own applied state (may be stale: the harness
 *                                   compares managers with it once the cluster has healed).
 *   PUT  /shoal/kv/{key}          {"value"}         → {"value"}
 *   POST /shoal/kv/{key}/append   {"value"}         → {"value": the new whole value}
 *   POST /shoal/kv/{key}/cas      {"from", "to"}    → {"value": to}; 409 when the key does
 *                                   not hold `from` (`from: null` = the key must be absent).
 *
 * Writes answer only once committed by a quorum and applied; 503 means no
 * leader or an unknown outcome (the write may or may not have happened).
 */
import type { ManagerContext } from '../../interface.js';
import type { StoreOp } from '../../store/commands.js';
import { fromStoreVerdict, notFound, toApiError } from '../errors.js';
import { boolParam } from '../http.js';
import type { Deps } from '../options.js';
import type { Router } from '../router.js';
import { readStore } from '../state.js';
import { fail, isObj } from '../validate/check.js';

const MAX_KEY = 256;

function key(raw: string | undefined): string {
  if (!raw || raw.length > MAX_KEY) fail('key', `must be 1 to ${MAX_KEY} characters`);
  return raw;
}

function stringField(body: unknown, field: string, nullable = false): string | null {
  if (!isObj(body)) fail('body', 'must be a JSON object');
  const v = body[field];
  if (nullable && (v === null || v === undefined)) return null;
  if (typeof v !== 'string') fail(field, `must be a string${nullable ? ' or null' : ''}`);
  return v;
}

export function kvRoutes(r: Router, d: Deps): void {
  const { ctx } = d;

  r.add('GET', '/shoal/kv/:key', async (req) => {
    const k = key(req.params.key);
    const store = boolParam(req.query, 'local') ? ctx.store : await readStore(ctx);
    const v = store.kvGet(k);
    if (v === null) throw notFound(`key ${JSON.stringify(k)} not found`);
    return { body: { value: v } };
  });

  r.add('PUT', '/shoal/kv/:key', async (req) => {
    const k = key(req.params.key);
    const value = stringField(await req.json(), 'value')!;
    return { body: await commitKv(ctx, { op: 'kvPut', key: k, value }) };
  });

  r.add('POST', '/shoal/kv/:key/append', async (req) => {
    const k = key(req.params.key);
    const value = stringField(await req.json(), 'value')!;
    return { body: await commitKv(ctx, { op: 'kvAppend', key: k, value }) };
  });

  r.add('POST', '/shoal/kv/:key/cas', async (req) => {
    const k = key(req.params.key);
    const body = await req.json();
    const from = stringField(body, 'from', true);
    const to = stringField(body, 'to')!;
    return { body: await commitKv(ctx, { op: 'kvCas', key: k, from, to }) };
  });
}

/** One KV operation through Raft; the value after it comes back in the transaction result. */
async function commitKv(ctx: ManagerContext, op: StoreOp): Promise<{ value: string; index: number }> {
  let res;
  try {
    res = await ctx.commit([op]);
  } catch (err) {
    throw toApiError(err);
  }
  if (!res.ok) throw fromStoreVerdict(res.code, res.message, res.field);
  return { value: res.kv?.[0] ?? '', index: res.index };
}
