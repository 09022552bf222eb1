/**
 * What `shoal down` stops besides its nodes (cli/local/processes.ts): every
 * process whose command line names a path in the cluster dir when the data
 * goes too (--purge: nothing may write into it while it is deleted), but only
 * Shoal's own node and task-supervisor processes when the data is kept — a
 * `tail -f` of a node's log must survive a plain `shoal down`.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { processesUnder } from '../../src/cli/local/processes.js';
import { waitFor } from '../helpers/wait.js';

t.test('shoalOnly: the node and supervisor scripts, not a reader of the same files', async (t) => {
  const dir = t.testdir({ cluster: { manager1: { 'node.log': 'x\n' } }, app: {} });
  const cluster = path.join(dir, 'cluster');
  // Stand-ins with the real scripts' names: what the filter reads is the command line.
  const script = 'setTimeout(() => {}, 120000);\n';
  for (const rel of ['bin/shoal.js', 'src/worker/supervisor/main.js', 'other/tool.js']) {
    mkdirSync(path.dirname(path.join(dir, 'app', rel)), { recursive: true });
    writeFileSync(path.join(dir, 'app', rel), script);
  }
  const kids: ChildProcess[] = [];
  const start = (args: string[]) => {
    const c = spawn(process.execPath, args, { stdio: 'ignore' });
    kids.push(c);
    return c.pid!;
  };
  t.teardown(() => {
    for (const k of kids) k.kill('SIGKILL');
  });
  const node = start([path.join(dir, 'app/bin/shoal.js'), 'init', '--data-dir', path.join(cluster, 'manager1', 'data')]);
  const supervisor = start([path.join(dir, 'app/src/worker/supervisor/main.js'), path.join(cluster, 'manager1', 'data', 'supervisor')]);
  const reader = start([path.join(dir, 'app/other/tool.js'), path.join(cluster, 'manager1', 'node.log')]);
  const elsewhere = start([path.join(dir, 'app/bin/shoal.js'), 'init', '--data-dir', path.join(dir, 'app', 'data')]);
  // A shoal command (not a node) that names a node's data dir: what --purge stops, a plain down not.
  const command = start([path.join(dir, 'app/bin/shoal.js'), 'image', 'import', '--data-dir', path.join(cluster, 'manager1', 'data'), 'x:1', '/dev/null']);
  const mine = new Set([node, supervisor, reader, elsewhere, command]);
  const seen = (opts?: { shoalOnly?: boolean }) => processesUnder(cluster, opts).filter((p) => mine.has(p)).sort((a, b) => a - b);
  await waitFor(() => seen().length === 4, { timeoutMs: 10_000, what: 'the four processes naming the cluster dir' });
  t.same(seen(), [node, supervisor, reader, command].sort((a, b) => a - b), 'every process naming a path in the dir (what --purge stops)');
  t.same(seen({ shoalOnly: true }), [node, supervisor].sort((a, b) => a - b), 'only the node and its supervisor (what a plain down stops), not a reader or another shoal command');
  t.notOk(seen().includes(elsewhere), 'a node of another cluster dir is not one of them');
});
