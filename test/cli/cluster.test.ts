/**
 * The CLI against real node processes (`shoal init` + `shoal join`,
 * test/helpers/procs.ts), `-H` pointing at the manager's API. The commands
 * run in-process through main() (the same code path as bin/shoal.js, without
 * a Node start per command: this file makes ~50 of them); the error section
 * at the end runs the CLI as a real process (dist/bin/shoal.js), exit codes
 * and stderr included.
 *
 * The non-detached progress path that fails is tested here, with a service
 * that cannot be placed (its constraint matches no node): it must report the
 * scheduler's reason and exit 1 when --timeout passes. The one that
 * converges ("verify: Service converged") is in test/worker/e2e.test.ts.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { oneLineError, shoalInProcess, shoalProcess } from './helpers.js';

t.test('node, service and join-token commands against a real cluster', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  await c.join('worker', m1);
  const host = `unix://${m1.dataDir}/api.sock`;
  const shoal = (...args: string[]) => shoalInProcess('-H', host, ...args);
  const ok = async (...args: string[]) => {
    const r = await shoal(...args);
    t.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.err}`);
    return r.out;
  };
  const diag = () => c.logs();

  // ---- nodes
  await waitFor(async () => (await shoal('node', 'ls')).out.split('\n').filter((l) => /Ready/.test(l)).length === 2, { timeoutMs: 20_000, what: 'two Ready nodes' });
  let out = await ok('node', 'ls');
  t.match(out, /^ID +HOSTNAME +STATUS +AVAILABILITY +MANAGER STATUS +ENGINE VERSION +ADDRESS\n/);
  t.match(out, / n1 +Ready +Active +Leader +\S+ +127\.\d+\.\d+\.\d+\n/, "the address column: the node's Status.Addr");
  t.match(out, /\S+ \* +n1 +Ready +Active +Leader +\S+/, 'the answering manager is marked and leads');
  t.match(out, /\n\S+ +n2 +Ready +Active +\S+ +\S+\n/, 'the worker');
  const ids = (await ok('node', 'ls', '-q')).trim().split('\n');
  t.equal(ids.length, 2);
  t.ok(ids.every((id) => /^[0-9a-z]{25}$/.test(id)), 'full node IDs');
  const rows = (await ok('node', 'ls', '--format', 'json')).trim().split('\n').map((l) => JSON.parse(l) as { Hostname: string; ManagerStatus: string });
  t.same(rows.map((r) => [r.Hostname, r.ManagerStatus]).sort(), [['n1', 'Leader'], ['n2', '']]);
  t.match(await ok('node', 'inspect', '--pretty', 'n2'), /Hostname: +n2\n/);
  const prefix = ids.find((id) => id !== '')!.slice(0, 6);
  t.equal((JSON.parse(await ok('node', 'inspect', prefix)) as { ID: string }[])[0]!.ID.slice(0, 6), prefix, 'an ID prefix resolves');

  t.equal(await ok('node', 'update', '--availability', 'drain', '--label-add', 'zone=a', 'n2'), 'n2\n');
  let n2 = (JSON.parse(await ok('node', 'inspect', 'n2')) as { Spec: { Availability: string; Labels: Record<string, string> } }[])[0]!;
  t.same([n2.Spec.Availability, n2.Spec.Labels], ['drain', { zone: 'a' }]);
  await ok('node', 'update', '--availability', 'active', '--label-rm', 'zone', 'n2');
  n2 = (JSON.parse(await ok('node', 'inspect', 'n2')) as typeof n2[])[0]!;
  t.same([n2.Spec.Availability, n2.Spec.Labels], ['active', {}]);
  t.equal(oneLineError(await shoal('node', 'update', '--label-rm', 'nope', 'n2')), null, 'removing a missing label is an error');

  t.equal(await ok('node', 'promote', 'n2'), 'Node n2 promoted to a manager in the swarm.\n');
  await waitFor(async () => /n2 +Ready +Active +Reachable/.test((await shoal('node', 'ls')).out), { timeoutMs: 30_000, what: `n2 a reachable manager\n${diag()}` });
  t.pass('n2 became a reachable manager');
  t.equal(await ok('node', 'demote', 'n2'), 'Manager n2 demoted in the swarm.\n');
  await waitFor(async () => !/Reachable/.test((await shoal('node', 'ls')).out), { timeoutMs: 20_000, what: 'n2 demoted' });
  t.pass('n2 is a worker again');
  let r = await shoal('node', 'rm', 'n2');
  t.equal(oneLineError(r), null, 'removing a live node needs --force');
  t.match(r.err, /can't be removed \(use --force\)|--force/);

  // ---- services
  out = await ok('service', 'create', '-d', '--name', 'web', '--replicas', '2', '--reserve-memory', '16M', '--env', 'A=1', 'busybox', 'sleep', '600');
  t.match(out, /^[0-9a-z]{25}\n$/, 'prints the service ID');
  t.match(await ok('service', 'ls'), /\n[0-9a-z]{12} +web +replicated +\d\/2 +busybox/);
  t.match(await ok('service', 'ls', '-q'), /^[0-9a-z]{12}\n$/);
  await waitFor(async () => (await shoal('service', 'ps', 'web')).out.split('\n').filter((l) => /web\.\d/.test(l)).length === 2, { timeoutMs: 30_000, what: 'two tasks' });
  t.match(await ok('service', 'ps', 'web'), /^ID +NAME +IMAGE +NODE +DESIRED STATE +CURRENT STATE +ERROR +PORTS\n[0-9a-z]{12} +web\.1 +busybox /);
  const svc = (JSON.parse(await ok('service', 'inspect', 'web')) as { Spec: { TaskTemplate: { ContainerSpec: { Args: string[]; Env: string[] }; Resources: { Reservations: { MemoryBytes: number } } } } }[])[0]!;
  t.same(svc.Spec.TaskTemplate.ContainerSpec.Args, ['sleep', '600']);
  t.equal(svc.Spec.TaskTemplate.Resources.Reservations.MemoryBytes, 16 * 1024 * 1024);
  t.match(await ok('service', 'inspect', '--pretty', 'web'), /Name: +web\n[\s\S]*Memory: +16MiB/);

  t.equal(await ok('service', 'scale', '-d', 'web=4'), 'web scaled to 4\n');
  await waitFor(async () => (await shoal('service', 'ps', 'web')).out.split('\n').filter((l) => /web\.\d/.test(l)).length === 4, { timeoutMs: 30_000, what: 'four tasks' });
  t.equal(await ok('service', 'update', '-d', '--env-add', 'B=2', '--env-rm', 'A', '--update-parallelism', '2', 'web'), 'web\n');
  const updated = (JSON.parse(await ok('service', 'inspect', 'web')) as { Spec: { Mode: { Replicated: { Replicas: number } }; TaskTemplate: { ContainerSpec: { Env: string[] } }; UpdateConfig: { Parallelism: number } } }[])[0]!;
  t.same([updated.Spec.TaskTemplate.ContainerSpec.Env, updated.Spec.Mode.Replicated.Replicas, updated.Spec.UpdateConfig.Parallelism], [['B=2'], 4, 2]);
  t.equal(await ok('service', 'update', '-d', '--rollback', 'web'), 'web\n');
  const rolledBack = (JSON.parse(await ok('service', 'inspect', 'web')) as typeof updated[])[0]!;
  t.same([rolledBack.Spec.TaskTemplate.ContainerSpec.Env, rolledBack.Spec.Mode.Replicated.Replicas], [['A=1'], 4], '--rollback restores the previous spec');
  // `service rollback` (docker's command): a manual rollback swaps, so it goes forward again.
  t.equal(await ok('service', 'rollback', '-d', 'web'), 'web\n');
  const again = (JSON.parse(await ok('service', 'inspect', 'web')) as typeof updated[])[0]!;
  t.same(again.Spec.TaskTemplate.ContainerSpec.Env, ['B=2'], 'service rollback: back to the spec before the rollback');
  t.equal(oneLineError(await shoal('service', 'rollback', 'nope')), null, 'an unknown service: one line, exit 1');

  // Without -d: progress until the deadline, then the scheduler's reason, exit 1.
  r = await shoal('service', 'create', '--name', 'nowhere', '--constraint', 'node.labels.zone==nowhere', '--timeout', '2s', 'busybox', 'sleep', '1');
  t.equal(r.code, 1);
  t.match(r.out, /^[0-9a-z]{25}\nnowhere\n0\/1 running/, 'the ID, then a line per change');
  t.equal(oneLineError(r), null);
  t.match(r.err, /^shoal: service nowhere did not converge within 2s: nowhere\.1 pending: no suitable node \(.*constraint.*\)\n$/);

  // ---- join tokens
  const token = (await ok('join-token', '-q', 'worker')).trim();
  t.match(token, /^SWMTKN-1-\S+$/);
  t.match(await ok('join-token', 'manager'), new RegExp(`To add a manager to this swarm, run the following command:\\n\\n {4}shoal join --token SWMTKN-1-\\S+ ${m1.host.replace(/\./g, '\\.')}:4242\\n`));
  out = await ok('join-token', '--rotate', 'worker');
  t.match(out, /^Successfully rotated worker join token\.\n/);
  const rotated = (await ok('join-token', '-q', 'worker')).trim();
  t.not(rotated, token, 'a new token');
  t.ok(out.includes(rotated), 'and it is the one printed');

  // ---- removal
  t.equal(await ok('service', 'rm', 'web', 'nowhere'), 'web\nnowhere\n');
  t.notMatch(await ok('service', 'ls'), /web|nowhere/);
  r = await shoal('service', 'rm', 'web');
  t.equal(oneLineError(r), null);
  t.match(r.err, /service web not found/);

  // ---- errors, as a real process
  r = await shoalProcess(['service', 'create', '--bogus', 'busybox'], { host });
  t.equal(oneLineError(r), null);
  t.equal(r.err, "shoal: unknown option '--bogus'\n");
  r = await shoalProcess(['node', 'ls'], { host: '127.0.0.1:1', env: { SHOAL_CERT_PATH: c.adminDir() } });
  t.equal(oneLineError(r), null);
  t.equal(r.err, 'shoal: cannot reach the Shoal API at 127.0.0.1:1: is the cluster up? (shoal up)\n');
  // The TLS address, with the admin bundle `shoal init` wrote: the same answers as the socket.
  r = await shoalProcess(['node', 'ls'], { host: `tcp://${m1.host}:${m1.apiPort}`, env: { SHOAL_CERT_PATH: c.adminDir() } });
  t.equal(r.code, 0, r.err);
  t.match(r.out, /n1\s.*Leader/, 'shoal over TLS with the admin bundle');
  // More admin bundles: the key is made by the CLI, the manager signs its CSR.
  const bundle = mkdtempSync(path.join(tmpdir(), 'shoal-admin-'));
  t.teardown(() => rmSync(bundle, { recursive: true, force: true }));
  r = await shoal('swarm', 'admin-cert', '--out', bundle, '--name', 'laptop');
  t.equal(r.code, 0, r.err);
  t.equal(statSync(path.join(bundle, 'key.pem')).mode & 0o777, 0o600, 'the new key is 0600');
  r = await shoalProcess(['node', 'ls'], { host: `tcp://${m1.host}:${m1.apiPort}`, env: { SHOAL_CERT_PATH: bundle } });
  t.equal(r.code, 0, `the new bundle works over TLS: ${r.err}`);
  r = await shoal('swarm', 'admin-cert', '--out', bundle);
  t.equal(oneLineError(r), null);
  t.match(r.err, /already holds a key\.pem/, 'never overwrites a key');
  r = await shoal('swarm', 'admin-cert', '--out', path.join(bundle, 'x'), '--name', 'bad name!');
  t.match(r.err, /^shoal: Name must be 1-64 characters/, 'a bad name is refused by the API');
  r = await shoalProcess(['node', 'ls'], { host: `tcp://${m1.host}:${m1.apiPort}`, env: { SHOAL_DATA_DIR: '/nonexistent/shoal' }, cwd: tmpdir() });
  t.equal(oneLineError(r), null);
  t.match(r.err, /^shoal: the Shoal API over TCP \(\S+\) needs a client certificate of the cluster/, 'over TCP without a bundle: told what to set');
});
