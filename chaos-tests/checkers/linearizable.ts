/**
 * The recorded KV history (plus the final reads) must be linearizable:
 * the register and log keys against the KV model, each CAS key against the
 * CAS-register model. `unknown` (the search ran out of budget) is not a pass.
 */
import { checkCas, checkKv, type CheckResult } from '../linearizability/index.js';
import type { History } from '../workload/history.js';
import type { Verdict } from './verdict.js';

export function checkLinearizable(h: History, timeoutMs: number): Verdict & { verdict: CheckResult['verdict'] } {
  const details: string[] = [];
  const kv = h.kvOps();
  const results: [string, CheckResult][] = [['kv', checkKv(kv, { timeoutMs })]];
  for (const [key, ops] of h.casOps()) results.push([`cas ${key}`, checkCas(ops, { timeoutMs })]);
  let verdict: CheckResult['verdict'] = 'linearizable';
  for (const [what, r] of results) {
    if (r.verdict === 'not linearizable') {
      verdict = 'not linearizable';
      details.push(`${what}: not linearizable\n${r.window ?? ''}`);
    } else if (r.verdict === 'unknown') {
      if (verdict === 'linearizable') verdict = 'unknown';
      details.push(`${what}: unknown (${r.reason ?? 'budget'})`);
    }
  }
  const total = h.ops.filter((o) => o.outcome !== 'fail').length;
  const unknown = h.ops.filter((o) => o.outcome === 'unknown').length;
  const ms = results.reduce((s, [, r]) => s + r.elapsedMs, 0);
  return {
    name: 'linearizable',
    pass: verdict === 'linearizable',
    verdict,
    summary: `${verdict}: ${total} operations (${unknown} with unknown outcome) checked in ${Math.round(ms)} ms`,
    details,
  };
}
