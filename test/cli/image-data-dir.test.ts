/**
 * Whose image store `shoal image import|ls` use (cli/commands/image.ts), in
 * the order the API commands pick their manager: --data-dir, else the first
 * running node of the `shoal up` cluster in ./.shoal, else $SHOAL_DATA_DIR,
 * else ~/.shoal/node. After `shoal up`, an
 * import without flags used to land in ~/.shoal/node, where no node of that
 * cluster looked. The whole path (import after up, a task on another node
 * runs the image) is in test/cli/up-netns.test.ts.
 */
import t from 'tap';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { waitFor } from '../helpers/wait.js';
import { imageDataDir } from '../../src/cli/commands/image.js';
import { writeCluster, type LocalCluster } from '../../src/cli/local/cluster-file.js';

const cluster = (pids: (number | null)[]): LocalCluster => ({
  version: 1,
  createdAt: new Date(0).toISOString(),
  nodes: pids.map((pid, i) => ({ name: i === 0 ? 'manager1' : `worker${i}`, role: i === 0 ? 'manager' : 'worker', addr: `127.0.0.${11 + i}:4242`, pid })),
});

t.test('flag, then the local cluster, then $SHOAL_DATA_DIR, then the default', async (t) => {
  const cwd = t.testdir({});
  const home = {};
  t.same(imageDataDir(undefined, home, cwd), { dataDir: path.join(os.homedir(), '.shoal', 'node') }, 'no cluster here: the default data dir');
  t.same(imageDataDir(undefined, { SHOAL_DATA_DIR: '/srv/shoal' }, cwd), { dataDir: '/srv/shoal' }, 'no cluster here: $SHOAL_DATA_DIR');
  writeCluster(path.join(cwd, '.shoal'), cluster([null, null]));
  t.same(imageDataDir(undefined, home, cwd), { dataDir: path.join(cwd, '.shoal', 'manager1', 'data'), node: 'manager1' }, 'a stopped cluster: its first node');
  // worker1 runs: a stand-in with a node's command line (isNodeProcess reads it for the script and the data dir).
  writeFileSync(path.join(cwd, 'shoal.js'), 'setTimeout(() => {}, 120000);\n');
  const node = spawn(process.execPath, [path.join(cwd, 'shoal.js'), 'init', '--data-dir', path.join(cwd, '.shoal', 'worker1', 'data')], { stdio: 'ignore' });
  t.teardown(() => node.kill('SIGKILL'));
  writeCluster(path.join(cwd, '.shoal'), cluster([null, node.pid!]));
  await waitFor(() => readFileSync(`/proc/${node.pid}/cmdline`, 'utf8').includes('--data-dir'), { timeoutMs: 10_000, what: 'the stand-in node to run' });
  t.same(imageDataDir(undefined, home, cwd), { dataDir: path.join(cwd, '.shoal', 'worker1', 'data'), node: 'worker1' }, 'the first running node');
  writeCluster(path.join(cwd, '.shoal'), cluster([process.pid, node.pid!]));
  t.equal(imageDataDir(undefined, home, cwd).node, 'worker1', 'a recorded PID that is not that node (a reused PID) does not count');
  t.equal(imageDataDir(undefined, { SHOAL_DATA_DIR: '/srv/shoal' }, cwd).node, 'worker1', 'the local cluster over $SHOAL_DATA_DIR (as the API commands pick it over the $SHOAL_DATA_DIR socket)');
  t.same(imageDataDir('/d', { SHOAL_DATA_DIR: '/srv/shoal' }, cwd), { dataDir: '/d' }, '--data-dir over everything');
});
