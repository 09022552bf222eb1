import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import {
  checkCas,
  checkKv,
  DEFAULT_TIMEOUT_MS,
  HistoryParseError,
  parseJepsenLog,
  parseKvHistory,
  type CheckResult,
} from '../linearizability/index.js';
import { CliError } from '../../src/cli/errors.js';

/** Exit codes of `npm run check`; documented in its help. */
export const CHECK_EXIT = { linearizable: 0, notLinearizable: 1, usage: 1, unknown: 2 } as const;

const FORMATS = {
  'cas-register': 'a Jepsen etcd log (INFO  jepsen.util - <process> :<type> :<f> <value>)',
  kv: 'one EDN map per line ({:process 0, :type :invoke, :f :get, :key "1", :value nil})',
} as const;
type ModelName = keyof typeof FORMATS;

const HELP_AFTER = `
Models and file formats:
  --model cas-register   ${FORMATS['cas-register']}
  --model kv             ${FORMATS.kv}

Prints the verdict on the first line of stdout; when not linearizable, then a
short window of the operations around the point where no order works (times
are line numbers in FILE).

Exit codes:
  0  linearizable
  1  not linearizable, or bad arguments / unreadable or malformed file
     (one line on stderr says what to fix)
  2  unknown: the search ran out of time (--timeout) or of its memory budget
     before reaching a verdict; prints "unknown (timed out after …)"`;

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check a recorded operation history for linearizability')
    .argument('<file>', 'history file to check')
    .option('-m, --model <model>', 'sequential model: kv or cas-register')
    .option('--timeout <seconds>', 'give up after this long; the verdict is then unknown', String(DEFAULT_TIMEOUT_MS / 1000))
    .addHelpText('after', HELP_AFTER)
    .action(async (file: string, opts: { model?: string; timeout: string }) => {
      const model = parseModel(opts.model);
      const timeoutMs = parseTimeout(opts.timeout);
      const text = await readHistory(file);
      const result = runCheck(model, text, file, timeoutMs);
      report(result);
    });
}

function parseModel(model: string | undefined): ModelName {
  if (model === undefined) throw new CliError('--model is required: use --model kv or --model cas-register');
  if (!Object.hasOwn(FORMATS, model)) {
    throw new CliError(`unknown model '${model}': use --model kv or --model cas-register`);
  }
  return model as ModelName;
}

function parseTimeout(value: string): number {
  const seconds = Number(value);
  if (value.trim() === '' || !Number.isFinite(seconds) || seconds <= 0) {
    throw new CliError(`--timeout must be a positive number of seconds, got '${value}'`);
  }
  return seconds * 1000;
}

async function readHistory(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'it is a directory' : (e.code ?? e.message);
    throw new CliError(`cannot read history file ${file}: ${why}`);
  }
}

function runCheck(model: ModelName, text: string, file: string, timeoutMs: number): CheckResult {
  try {
    if (model === 'kv') {
      const ops = parseKvHistory(text, file);
      requireOperations(ops.length, model, file);
      return checkKv(ops, { timeoutMs });
    }
    const ops = parseJepsenLog(text, file);
    requireOperations(ops.length, model, file);
    return checkCas(ops, { timeoutMs });
  } catch (err) {
    if (err instanceof HistoryParseError) {
      throw new CliError(`${err.message} (--model ${model} expects ${FORMATS[model]})`);
    }
    throw err;
  }
}

/**
 * An empty parse is almost always the wrong --model for the file (the Jepsen
 * parser skips lines it does not recognise): say so rather than call an empty
 * history linearizable.
 */
function requireOperations(count: number, model: ModelName, file: string): void {
  if (count === 0) throw new CliError(`${file}: no operations found; --model ${model} expects ${FORMATS[model]}`);
}

function report(result: CheckResult): void {
  switch (result.verdict) {
    case 'linearizable':
      process.stdout.write('linearizable\n');
      return;
    case 'not linearizable':
      process.stdout.write(`not linearizable\n${result.window ?? ''}\n`);
      // Empty message: the verdict is already printed; only the exit code is left.
      throw new CliError('', CHECK_EXIT.notLinearizable);
    case 'unknown':
      process.stdout.write(`unknown (${result.reason ?? 'gave up'})\n`);
      throw new CliError('', CHECK_EXIT.unknown);
  }
}
