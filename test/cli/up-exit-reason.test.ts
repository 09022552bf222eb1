/**
 * `shoal up` explains a node that died while it waited: from what the
 * process printed (node.out: a refused flag, an address in use), else from
 * the last error or warning record of its JSON log (node.log).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { exitReason } from '../../src/cli/local/readiness.js';

t.test('why a node exited: its printed error first, else its last error record', async (t) => {
  const dir = t.testdir();
  const n = { name: 'worker1' };
  mkdirSync(path.join(dir, 'worker1'));
  t.equal(exitReason(dir, n), '', 'nothing written: nothing to say');
  const rec = (level: string, msg: string) => JSON.stringify({ level, time: '2026-12-05T03:00:00.000Z', node: 'x', component: 'node', msg });
  writeFileSync(path.join(dir, 'worker1', 'node.log'), [rec('info', 'started'), rec('warn', 'no overlay data plane'), rec('error', 'cannot write the task db: disk full'), rec('info', 'stopping')].join('\n') + '\n');
  t.equal(exitReason(dir, n), 'cannot write the task db: disk full', 'the last error or warning record, not the last record');
  writeFileSync(path.join(dir, 'worker1', 'node.out'), 'shoal: cannot listen on 127.0.0.21:4242: EADDRINUSE\n');
  t.equal(exitReason(dir, n), 'shoal: cannot listen on 127.0.0.21:4242: EADDRINUSE', 'what the process printed comes first');
});
