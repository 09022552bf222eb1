import t from 'tap';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { nextHost } from '../manager/harness.js';
import { waitFor } from '../helpers/wait.js';
import { httpRequest } from '../helpers/http-request.js';
import { Daemon } from '../../src/node/daemon.js';

/**
 * `shoal run --data-dir node1`, relative to where it was typed: the task
 * supervisor, which runs in / (it outlives the daemon and its working
 * directory), must use the same directory, and tasks must run. Until the
 * daemon made the path absolute, the supervisor looked for /node1 and died
 * before it logged a line, and no task ever started.
 */
const api = (socketPath: string, method: string, p: string, body?: object) => httpRequest({ socketPath, path: p }, method, body ? JSON.stringify(body) : undefined);

t.test('a relative --data-dir: the supervisor finds it and tasks run', async (t) => {
  const dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'shoal-reldir-')));
  const was = process.cwd();
  process.chdir(dir);
  let d: Daemon | null = null;
  t.teardown(async () => {
    await d?.stop();
    process.chdir(was);
    rmSync(dir, { recursive: true, force: true });
  });
  const host = nextHost();
  d = await Daemon.start({ dataDir: 'node1', init: true, advertiseAddr: `${host}:4242`, tickMs: 20 });
  t.equal(d.dataDir, path.join(dir, 'node1'), 'the daemon holds the absolute path');
  const sock = d.apiSocket;
  const r = await api(sock, 'POST', '/services/create', {
    Name: 'rel',
    TaskTemplate: { Runtime: 'process', ContainerSpec: { Image: 'sleep', Args: ['300'] } },
    Mode: { Replicated: { Replicas: 2 } },
  });
  t.equal(r.status, 201, r.body);
  await waitFor(
    async () => {
      const tasks = JSON.parse((await api(sock, 'GET', '/tasks')).body) as { Status: { State: string } }[];
      return tasks.filter((x) => x.Status.State === 'running').length === 2;
    },
    { timeoutMs: 30_000, what: 'two running tasks' },
  );
  t.pass('both tasks run');
  t.ok(existsSync(path.join(dir, 'node1', 'supervisor', 'supervisor.pid')), 'the supervisor keeps its pid file in the data dir');
});
