import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { checkCas, checkKv, parseJepsenLog, parseKvHistory } from '../../chaos-tests/linearizability/index.js';
import { testdata } from './helpers.js';

// Every recorded history with a known verdict, read in place from ../shared.

t.test('jepsen-etcd: every file gets the verdict in verdicts.tsv', async (t) => {
  const dir = path.join(testdata, 'jepsen-etcd');
  const rows = readFileSync(path.join(dir, 'verdicts.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
  const logs = readdirSync(dir).filter((f) => f.endsWith('.log'));
  t.equal(rows.length, logs.length, 'verdicts.tsv covers every log');
  let total = 0;
  for (const [file, linearizable] of rows) {
    const ops = parseJepsenLog(readFileSync(path.join(dir, file), 'utf8'), file);
    const r = checkCas(ops);
    total += r.elapsedMs;
    t.equal(r.verdict, linearizable === 'true' ? 'linearizable' : 'not linearizable', file);
    if (r.verdict === 'not linearizable') t.ok(r.window && r.window.split('\n').length <= 12, `${file}: short window`);
  }
  t.comment(`jepsen-etcd: ${rows.length} files checked in ${total.toFixed(0)} ms`);
});

t.test('kv: every -ok file is linearizable, every -bad file is not', async (t) => {
  const dir = path.join(testdata, 'kv');
  const files = readdirSync(dir).filter((f) => /-(ok|bad)\.txt$/.test(f)).sort();
  t.ok(files.length >= 6, 'found the kv files');
  for (const file of files) {
    const ops = parseKvHistory(readFileSync(path.join(dir, file), 'utf8'), file);
    const r = checkKv(ops);
    t.equal(r.verdict, file.includes('-ok') ? 'linearizable' : 'not linearizable', file);
    if (r.verdict === 'not linearizable') t.match(r.window, /^key "/, `${file}: window names the key`);
    // Printed, not asserted: the machine is shared and loaded (bench:check measures it).
    t.comment(`${file}: ${ops.length} operations, ${r.verdict} in ${r.elapsedMs.toFixed(0)} ms`);
  }
});
