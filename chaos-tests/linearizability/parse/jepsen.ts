import { HistoryParseError } from '../errors.js';
import type { CasInput, CasOperation } from '../interface.js';

/**
 * Parses a Jepsen etcd log (CAS register) into operations.
 *
 * Only lines `INFO  jepsen.util - <process> <type> <f> <value>` matter (tabs
 * or spaces); other lines are setup/teardown logging and are skipped. Times
 * are 1-based line numbers, so a failing window points straight into the file.
 *
 * Rules (see ../shared/testdata/README.md):
 * - `:info`: outcome unknown, ret = Infinity (may take effect later, or never).
 * - `:fail :cas`: the comparison failed; still an operation (output ok=false).
 * - `:fail :read` (`:timed-out`): a read with an unknown result. A read has
 *   no effect, so an unknown read constrains nothing: it is dropped (exactly
 *   equivalent to keeping it with an output that matches anything, and
 *   cheaper to search).
 * - `:fail :write`: a definite failure with no effect: dropped.
 * - A call still open at the end of the file: unknown outcome, like `:info`.
 */
export function parseJepsenLog(text: string, file?: string): CasOperation[] {
  const ops: (CasOperation | undefined)[] = [];
  /** process -> index in ops of its open call, and that call's line. */
  const open = new Map<number, { index: number; line: number }>();
  const lines = text.split(/\r?\n/);
  for (let ln = 1; ln <= lines.length; ln++) {
    const raw = lines[ln - 1];
    const m = PREFIX.exec(raw);
    if (!m) continue;
    const fail = (reason: string): never => {
      throw new HistoryParseError(reason, ln, file);
    };
    const body = BODY.exec(m[1]);
    if (!body) fail(`expected "<process> :<type> :<f> <value>", got ${JSON.stringify(m[1].trim())}`);
    const [, procText, type, f, value] = body!;
    const process = Number(procText);

    if (type === 'invoke') {
      const prior = open.get(process);
      if (prior) fail(`process ${process} invokes again while its call on line ${prior.line} is still open`);
      open.set(process, { index: ops.length, line: ln });
      ops.push({ client: process, call: ln, ret: Infinity, input: parseInput(f, value, fail), output: undefined });
      continue;
    }
    if (type !== 'ok' && type !== 'fail' && type !== 'info') {
      fail(`unknown type :${type} (expected :invoke, :ok, :fail or :info)`);
    }
    const pending = open.get(process);
    if (!pending) fail(`:${type} for process ${process}, which has no open call`);
    open.delete(process);
    const op = ops[pending!.index]!;
    if (op.input.op !== f) fail(`:${type} :${f} completes a :${op.input.op} call (line ${pending!.line})`);

    if (type === 'info') continue; // stays ret = Infinity, output undefined
    if (type === 'fail' && op.input.op !== 'cas') {
      ops[pending!.index] = undefined; // no effect, or a read with an unknown result
      continue;
    }
    op.ret = ln;
    if (op.input.op === 'read') op.output = { value: parseReadValue(value, fail) };
    else if (op.input.op === 'write') op.output = {};
    else op.output = { ok: type === 'ok' };
  }
  return ops.filter((op): op is CasOperation => op !== undefined);
}

const PREFIX = /^INFO\s+jepsen\.util\s+-\s+(.*)$/;
const BODY = /^(\d+)\s+:([\w-]+)\s+:([\w-]+)\s+(.*?)\s*$/;
const INT = /^-?\d+$/;
const PAIR = /^\[\s*(-?\d+)\s+(-?\d+)\s*\]$/;

function parseInput(f: string, value: string, fail: (reason: string) => never): CasInput {
  switch (f) {
    case 'read':
      return { op: 'read' };
    case 'write':
      if (!INT.test(value)) fail(`:write needs an integer, got ${value}`);
      return { op: 'write', value: Number(value) };
    case 'cas': {
      const m = PAIR.exec(value);
      if (!m) fail(`:cas needs [from to], got ${value}`);
      return { op: 'cas', from: Number(m![1]), to: Number(m![2]) };
    }
    default:
      return fail(`unknown operation :${f} (expected :read, :write or :cas)`);
  }
}

function parseReadValue(value: string, fail: (reason: string) => never): number | null {
  if (value === 'nil') return null;
  if (!INT.test(value)) fail(`:ok :read needs nil or an integer, got ${value}`);
  return Number(value);
}
