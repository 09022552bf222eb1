import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The real docker CLI against real Shoal daemons (not a fake context): a
 * manager and a worker started with `shoal init` / `shoal join`.
 */
const dockerPath = '/usr/local/bin/docker';

function docker(host: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: dockerHome,
    DOCKER_CONFIG: dockerHome,
    DOCKER_HOST: `tcp://${host}`,
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1',
  };
  return new Promise((resolve) => {
    execFile(dockerPath, args, { env, timeout: 60_000 }, (err, out, errOut) => {
      resolve({ code: err ? ((err as NodeJS.ErrnoException & { code?: number }).code as unknown as number) ?? 1 : 0, out: String(out), err: String(errOut) });
    });
  });
}
const dockerHome = mkdtempSync(path.join(tmpdir(), 'shoal-docker-home-'));

t.test('docker node and service commands against a real cluster', async (t) => {
  const { existsSync } = await import('node:fs');
  if (!existsSync(dockerPath)) {
    t.plan(0, 'docker CLI not installed');
    return;
  }
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const w1 = await c.join('worker', m1);
  const api = `${m1.host}:${m1.apiPort}`;

  await waitFor(async () => (await docker(api, 'node', 'ls')).out.split('\n').filter((l) => /Ready/.test(l)).length === 2, { timeoutMs: 20_000, what: 'two Ready nodes' });
  const ls = (await docker(api, 'node', 'ls')).out;
  t.match(ls, /n1\s+Ready\s+Active\s+Leader/, 'the manager leads');
  t.match(ls, /n2\s+Ready\s+Active\s+\n?/, 'the worker is ready');

  let r = await docker(api, 'node', 'update', '--availability', 'drain', '--label-add', 'zone=a', 'n2');
  t.equal(r.code, 0, r.err);
  r = await docker(api, 'node', 'inspect', '--format', '{{ .Spec.Availability }} {{ index .Spec.Labels "zone" }}', 'n2');
  t.equal(r.out.trim(), 'drain a');
  await docker(api, 'node', 'update', '--availability', 'active', 'n2');

  // Promotion starts a Raft member in the worker's process; it catches up and becomes a voter.
  r = await docker(api, 'node', 'promote', 'n2');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /Node n2 promoted to a manager in the swarm/);
  await waitFor(async () => /n2\s+Ready\s+Active\s+Reachable/.test((await docker(api, 'node', 'ls')).out), { timeoutMs: 30_000, what: 'n2 a reachable manager' });
  t.pass('n2 is a reachable manager');
  await c.waitApi(w1);
  t.match((await docker(`${w1.host}:${w1.apiPort}`, 'node', 'ls')).out, /n1.*Leader/, 'and serves the API itself');
  r = await docker(api, 'node', 'demote', 'n2');
  t.equal(r.code, 0, r.err);
  await waitFor(async () => !/Reachable/.test((await docker(api, 'node', 'ls')).out), { timeoutMs: 20_000, what: 'n2 demoted' });

  r = await docker(api, 'service', 'create', '-d', '--no-resolve-image', '--name', 'web', '--replicas', '2', '--reserve-memory', '16M', 'busybox', 'sleep', '600');
  t.equal(r.code, 0, r.err);
  t.match(r.out.trim(), /^[0-9a-z]{25}$/, 'prints the service ID');
  t.match((await docker(api, 'service', 'ls')).out, /web\s+replicated\s+\d\/2\s+busybox/);
  await waitFor(async () => (await docker(api, 'service', 'ps', 'web')).out.split('\n').filter((l) => /web\.\d/.test(l)).length === 2, { what: 'two tasks' });
  r = await docker(api, 'service', 'scale', '-d', 'web=4');
  t.match(r.out, /web scaled to 4/);
  await waitFor(async () => (await docker(api, 'service', 'ps', 'web')).out.split('\n').filter((l) => /web\.\d/.test(l)).length === 4, { what: 'four tasks' });
  r = await docker(api, 'service', 'update', '-d', '--env-add', 'A=1', 'web');
  t.equal(r.code, 0, r.err);
  r = await docker(api, 'service', 'inspect', '--format', '{{ .Spec.TaskTemplate.ContainerSpec.Env }} {{ .Spec.Mode.Replicated.Replicas }}', 'web');
  t.equal(r.out.trim(), '[A=1] 4');
  r = await docker(api, 'service', 'rm', 'web');
  t.equal(r.code, 0, r.err);
  t.notMatch((await docker(api, 'service', 'ls')).out, /\sweb\s/);

  // A node that is gone can be removed.
  await c.kill(w1);
  await waitFor(async () => /n2\s+Down/.test((await docker(api, 'node', 'ls')).out), { timeoutMs: 20_000, what: 'n2 down' });
  r = await docker(api, 'node', 'rm', 'n2');
  t.equal(r.code, 0, r.err);
  t.notMatch((await docker(api, 'node', 'ls')).out, /\sn2\s/, 'no node with hostname n2');
});
