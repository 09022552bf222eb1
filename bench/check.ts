/**
 * Benchmark of the linearizability checker on the shared test data
 * (`npm run bench:check`). Prints one line per measurement, then one JSON
 * object of figures as the last line.
 *
 * c50 files are measured first, in a fresh process (cold JIT): that is the
 * figure a user of `npm run check` sees. Verdicts are checked too, so a fast
 * wrong answer cannot pass for a result.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { sharedTestdata } from '../chaos-tests/shared-data.js';
import { checkCas, checkKv, parseJepsenLog, parseKvHistory } from '../chaos-tests/linearizability/index.js';

const testdata = sharedTestdata();

let wrong = 0;

function kvFile(name: string): number {
  const ops = parseKvHistory(readFileSync(path.join(testdata, 'kv', name), 'utf8'), name);
  const r = checkKv(ops);
  const want = name.includes('-ok') ? 'linearizable' : 'not linearizable';
  if (r.verdict !== want) wrong++;
  console.log(`kv/${name}: ${ops.length} ops, ${r.verdict} in ${r.elapsedMs.toFixed(1)} ms${r.verdict === want ? '' : ` (WRONG: expected ${want})`}`);
  return r.elapsedMs;
}

const c50OkMs = kvFile('c50-ok.txt');
const c50BadMs = kvFile('c50-bad.txt');
const c10OkMs = kvFile('c10-ok.txt');
const c10BadMs = kvFile('c10-bad.txt');

const dir = path.join(testdata, 'jepsen-etcd');
const verdicts = new Map(
  readFileSync(path.join(dir, 'verdicts.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t') as [string, string]),
);
let jepsenTotal = 0;
let jepsenMax = 0;
let slowest = '';
for (const file of readdirSync(dir).filter((f) => f.endsWith('.log')).sort()) {
  const r = checkCas(parseJepsenLog(readFileSync(path.join(dir, file), 'utf8'), file));
  const want = verdicts.get(file) === 'true' ? 'linearizable' : 'not linearizable';
  if (r.verdict !== want) {
    wrong++;
    console.log(`jepsen-etcd/${file}: ${r.verdict} (WRONG: expected ${want})`);
  }
  jepsenTotal += r.elapsedMs;
  if (r.elapsedMs > jepsenMax) [jepsenMax, slowest] = [r.elapsedMs, file];
}
console.log(`jepsen-etcd: ${verdicts.size} files in ${jepsenTotal.toFixed(1)} ms (slowest ${slowest}: ${jepsenMax.toFixed(1)} ms)`);

const round = (ms: number) => Math.round(ms * 10) / 10;
console.log(
  JSON.stringify({
    c50_ok_ms: round(c50OkMs),
    c50_bad_ms: round(c50BadMs),
    c10_ok_ms: round(c10OkMs),
    c10_bad_ms: round(c10BadMs),
    jepsen_total_ms: round(jepsenTotal),
    jepsen_max_ms: round(jepsenMax),
    jepsen_files: verdicts.size,
    wrong_verdicts: wrong,
  }),
);
if (wrong > 0) process.exitCode = 1;
