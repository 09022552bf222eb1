import { HistoryParseError } from '../errors.js';
import type { KvInput, KvOperation } from '../interface.js';
import { Keyword, parseEdnMap, type EdnValue } from './edn.js';

/**
 * Parses a KV history: one EDN map per line,
 * `{:process 0, :type :invoke, :f :append, :key "4", :value "x 0 1 y"}`.
 * Blank lines and `;` comments are skipped. Times are 1-based line numbers.
 *
 * `:invoke` opens a call, `:ok` completes it (for :get, `:value` is what was
 * read; nil reads as ""). Beyond the files in testdata, the same rules as the
 * Jepsen logs: `:info` = unknown outcome (ret = Infinity), `:fail` = definite
 * failure with no effect (dropped), a call still open at the end = unknown.
 */
export function parseKvHistory(text: string, file?: string): KvOperation[] {
  const ops: (KvOperation | undefined)[] = [];
  const open = new Map<number, { index: number; line: number }>();
  const lines = text.split(/\r?\n/);
  for (let ln = 1; ln <= lines.length; ln++) {
    const raw = lines[ln - 1].trim();
    if (raw === '' || raw.startsWith(';')) continue;
    const fail = (reason: string): never => {
      throw new HistoryParseError(reason, ln, file);
    };
    const m = parseEdnMap(raw, ln, file);
    const process = m.get('process');
    if (typeof process !== 'number') fail(':process must be an integer');
    const type = keyword(m, 'type', fail);
    const f = keyword(m, 'f', fail);
    const keyValue = m.get('key');
    if (typeof keyValue !== 'string' && typeof keyValue !== 'number') fail(':key must be a string or an integer');
    const key = String(keyValue);
    const value = m.get('value');
    const proc = process as number;

    if (type === 'invoke') {
      const prior = open.get(proc);
      if (prior) fail(`process ${proc} invokes again while its call on line ${prior.line} is still open`);
      open.set(proc, { index: ops.length, line: ln });
      ops.push({ client: proc, call: ln, ret: Infinity, input: toInput(f, key, value, fail), output: undefined });
      continue;
    }
    if (type !== 'ok' && type !== 'fail' && type !== 'info') {
      fail(`unknown :type :${type} (expected :invoke, :ok, :fail or :info)`);
    }
    const pending = open.get(proc);
    if (!pending) fail(`:${type} for process ${proc}, which has no open call`);
    open.delete(proc);
    const op = ops[pending!.index]!;
    if (op.input.op !== f || op.input.key !== key) {
      fail(`:${type} :${f} of key ${JSON.stringify(key)} completes a different call (line ${pending!.line})`);
    }
    if (type === 'info') continue;
    if (type === 'fail') {
      ops[pending!.index] = undefined;
      continue;
    }
    op.ret = ln;
    if (op.input.op === 'get') {
      if (value !== null && value !== undefined && typeof value !== 'string') fail(':ok :get needs a string or nil :value');
      op.output = { value: (value as string | null | undefined) ?? '' };
    } else {
      op.output = {};
    }
  }
  return ops.filter((op): op is KvOperation => op !== undefined);
}

function keyword(m: Map<string, EdnValue>, field: string, fail: (reason: string) => never): string {
  const v = m.get(field);
  if (!(v instanceof Keyword)) return fail(`:${field} must be a keyword`);
  return v.name;
}

function toInput(f: string, key: string, value: EdnValue | undefined, fail: (reason: string) => never): KvInput {
  if (f === 'get') return { op: 'get', key };
  if (f === 'put' || f === 'append') {
    if (typeof value !== 'string') return fail(`:${f} needs a string :value`);
    return { op: f, key, value };
  }
  return fail(`unknown :f :${f} (expected :get, :put or :append)`);
}
