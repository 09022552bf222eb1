import { check } from '../check.js';
import type { CheckOptions, CheckResult, KvInput, KvOperation, KvOutput, Model } from '../interface.js';

/**
 * Key-value store with get / put / append; a missing key reads as "".
 *
 * The state is the value of ONE key: the model partitions the history by key
 * (each key is an independent register, so the whole history is linearizable
 * iff each key's sub-history is) and `check` always applies the partition.
 * That keeps states tiny and makes the large histories tractable.
 */
export const kvModel: Model<string, KvInput, KvOutput> = {
  name: 'kv',
  init: () => '',
  step(state, input, output) {
    switch (input.op) {
      case 'get':
        // Unknown outcome (undefined) matches anything.
        return { ok: output === undefined || (output.value ?? '') === state, state };
      case 'put':
        return { ok: true, state: input.value };
      case 'append':
        return { ok: true, state: state + input.value };
    }
  },
  // The value itself is canonical: equal strings are equal states.
  hash: (state) => state,
  partition(ops) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of ops) {
      const part = byKey.get(op.input.key);
      if (part) part.push(op);
      else byKey.set(op.input.key, [op]);
    }
    return [...byKey.values()];
  },
  describe(input, output) {
    const k = JSON.stringify(input.key);
    switch (input.op) {
      case 'get':
        return `get(${k}) -> ${output === undefined ? '?' : JSON.stringify(output.value ?? '')}`;
      case 'put':
        return `put(${k}, ${JSON.stringify(input.value)})`;
      case 'append':
        return `append(${k}, ${JSON.stringify(input.value)})`;
    }
  },
  describeState: (state) => JSON.stringify(state),
  describePartition: (ops) => (ops.length > 0 ? `key ${JSON.stringify(ops[0].input.key)}` : 'empty history'),
};

/** Checks a KV history (partitioned by key). */
export function checkKv(ops: KvOperation[], opts?: CheckOptions): CheckResult {
  return check(kvModel, ops, opts);
}
