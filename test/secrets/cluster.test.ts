/**
 * Secrets in a real multi-process cluster (two managers, one worker, on
 * 127.0.77.x): a secret and a config created with the CLI reach a process
 * task (it cats $SHOAL_SECRETS_DIR/<name> into its log), and afterwards no
 * file under any node's data dir — Raft logs, snapshots, sqlite files and
 * their WALs, the task db, node logs — holds the secret's bytes, except that
 * task's own log output. `secret inspect` shows no data; removing a secret
 * in use is refused naming the service; removing the task unmounts its
 * tmpfs. The data key is on both managers (mode 0600), never on the worker.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { oneLineError, shoalInProcess, shoalProcess } from '../cli/helpers.js';
import { filesUnder, mounts, sweepSecretRoots } from './helpers.js';


t.test('a secret reaches its process task and nowhere on disk', async (t) => {
  const c = new ProcCluster(77);
  const secretRoots: string[] = [];
  t.teardown(async () => {
    await c.close();
    // Killed nodes leave their tasks' tmpfs mounts behind: sweep this cluster's.
    sweepSecretRoots(secretRoots);
  });
  const m1 = await c.init();
  const m2 = await c.join('manager', m1);
  const w1 = await c.join('worker', m1);
  const host = `unix://${m1.dataDir}/api.sock`;
  // The CLI in-process through main() (bin/shoal.js's code path, without a Node start per
  // command); the refused `secret rm` below runs as a real process, exit code and stderr included.
  const shoal = (...args: string[]) => shoalInProcess('-H', host, ...args);
  const ok = async (...args: string[]) => {
    const r = await shoal(...args);
    t.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.err}`);
    return r.out;
  };
  const nodes = async () => (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Description: { Hostname: string }; Status: { State: string }; ManagerStatus?: { Reachability: string } }[]>();
  await waitFor(async () => (await nodes()).filter((n) => n.Status.State === 'ready').length === 3, { timeoutMs: 30_000, what: `three ready nodes\n${c.logs()}` });
  await waitFor(async () => (await nodes()).filter((n) => n.ManagerStatus?.Reachability === 'reachable').length === 2, { timeoutMs: 30_000, what: 'two reachable managers' });
  const idOf = new Map((await nodes()).map((n) => [n.Description.Hostname, n.ID]));
  for (const id of idOf.values()) secretRoots.push(process.getuid?.() === 0 ? `/run/shoal/secrets/${id}` : `/dev/shm/shoal-${process.getuid?.()}/secrets/${id}`);

  const plain = `S3CR3T-${randomBytes(12).toString('hex')}`;
  const configText = `conf-${randomBytes(6).toString('hex')}`;
  const file = path.join(c.dir, 'secret.txt');
  writeFileSync(file, plain);
  writeFileSync(path.join(c.dir, 'app.conf'), configText);
  const secretId = (await ok('secret', 'create', '--label', 'team=db', 'topsecret', file)).trim();
  t.match(secretId, /^[0-9a-z]{25}$/, 'prints the ID');
  await ok('config', 'create', 'appconf', path.join(c.dir, 'app.conf'));
  t.match(await ok('secret', 'ls'), new RegExp(`^ID +NAME +CREATED +UPDATED\\n${secretId} +topsecret +`));

  const inspected = await ok('secret', 'inspect', 'topsecret');
  const obj = (JSON.parse(inspected) as { ID: string; Spec: Record<string, unknown> }[])[0]!;
  t.equal(obj.ID, secretId);
  t.same(obj.Spec, { Name: 'topsecret', Labels: { team: 'db' } }, 'inspect: Spec without Data');
  t.notOk(inspected.includes(plain) || inspected.includes(Buffer.from(plain).toString('base64')), 'inspect shows no data');
  t.match(await ok('config', 'inspect', 'appconf'), new RegExp(Buffer.from(configText).toString('base64').replace(/[+/=]/g, '.')), 'config inspect returns its data, as docker');

  // Both managers hold the data key (the second got it in its Join answer); the worker never does.
  for (const n of [m1, m2]) {
    const f = path.join(n.dataDir, 'tls', 'data.key');
    t.ok(existsSync(f), `${n.name} has the data key`);
    t.equal(statSync(f).mode & 0o777, 0o600, `${n.name}: data.key is 0600`);
  }
  t.notOk(existsSync(path.join(w1.dataDir, 'tls', 'data.key')), 'the worker has no data key');

  const create = await shoal(
    'service', 'create', '--name', 'reader', '--runtime', 'process', '--constraint', 'node.role==worker', '--timeout', '60s',
    '--secret', 'topsecret', '--config', 'source=appconf,target=app.conf,mode=0400',
    'sh', '-c', 'echo "got $(cat $SHOAL_SECRETS_DIR/topsecret) and $(cat $SHOAL_CONFIGS_DIR/app.conf)"; exec sleep 600',
  );
  t.equal(create.code, 0, `${create.err}\n${c.logs()}`);
  await waitFor(async () => (await shoal('service', 'logs', 'reader')).out.includes(`got ${plain} and ${configText}`), { timeoutMs: 30_000, what: `the task's log shows the secret\n${c.logs()}` });
  t.pass('the process task read the secret and the config from its tmpfs');

  const tasks = (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: ['reader'], 'desired-state': ['running'] })))).json<{ ID: string; NodeID: string }[]>();
  t.equal(tasks.length, 1);
  const task = tasks[0]!;
  t.equal(task.NodeID, idOf.get('n3'), 'on the worker');
  const taskDir = path.join(secretRoots[[...idOf.values()].indexOf(task.NodeID)]!, task.ID);
  if (process.getuid?.() === 0) t.ok(mounts().includes(` ${taskDir} tmpfs `), 'the task has its own tmpfs mount');
  t.equal(statSync(path.join(taskDir, 'configs', 'app.conf')).mode & 0o777, 0o400, 'the config file has the mode asked for');
  t.equal(statSync(path.join(taskDir, 'secrets', 'topsecret')).mode & 0o777, 0o444, "the secret file has docker's default mode");

  // A used secret cannot be removed; the error names the service.
  const rm = await shoalProcess(['secret', 'rm', 'topsecret'], { host });
  t.equal(oneLineError(rm), null);
  t.match(rm.err, /secret 'topsecret' is in use by the following service: reader/);

  // At rest: no node's data dir holds the secret, except the task's own log output.
  const needles = [Buffer.from(plain), Buffer.from(Buffer.from(plain).toString('base64'))];
  let scanned = 0;
  let inOwnLog = false;
  const leaks: string[] = [];
  const caKeyLeaks: string[] = [];
  for (const n of c.nodes) {
    for (const f of filesUnder(n.dataDir)) {
      const data = readFileSync(f);
      scanned++;
      const hit = needles.some((x) => data.includes(x));
      if (f.includes(`${path.sep}tasks${path.sep}${task.ID}${path.sep}logs${path.sep}`)) {
        inOwnLog ||= hit;
        continue;
      }
      if (hit) leaks.push(path.relative(c.dir, f));
      if (/raft\.sqlite/.test(f) && data.includes('PRIVATE KEY')) caKeyLeaks.push(path.relative(c.dir, f));
    }
  }
  t.ok(inOwnLog, "the task's own log has it (the scan finds what is there)");
  t.ok(scanned > 10, `${scanned} files scanned`);
  t.same(leaks, [], 'no other file under any data dir holds the secret');
  t.same(caKeyLeaks, [], "the Raft logs hold no PEM private key (the CA key is sealed)");

  // Removing the service removes the task, its tmpfs, and then the secret may go.
  t.equal(await ok('service', 'rm', 'reader'), 'reader\n');
  await waitFor(() => !mounts().includes(` ${taskDir} `) && !existsSync(taskDir), { timeoutMs: 30_000, what: "the task's secret tmpfs unmounted and removed" });
  t.pass("the task's tmpfs is gone");
  t.equal(await ok('secret', 'rm', 'topsecret'), 'topsecret\n');
  t.equal(await ok('config', 'rm', 'appconf'), 'appconf\n');
  t.equal((await ok('secret', 'ls', '-q')).trim(), '');

  // A promoted worker gets the data key with its manager certificate (CertRenew): a config it seals, m1 opens.
  await ok('node', 'promote', 'n3');
  await waitFor(() => existsSync(path.join(w1.dataDir, 'tls', 'data.key')), { timeoutMs: 30_000, what: `n3 got the data key\n${c.logs()}` });
  const data = Buffer.from('sealed-by-n3').toString('base64');
  await waitFor(async () => (await c.http(w1, 'POST', '/configs/create', { Name: 'from-n3', Data: data }).catch(() => null))?.status === 201, { timeoutMs: 30_000, what: "n3's API creates a config" });
  t.equal((await c.http(m1, 'GET', '/configs/from-n3')).json<{ Spec: { Data: string } }>().Spec.Data, data, 'm1 opens what n3 sealed: one cluster data key');
  // Demoted, it forgets the key: workers never hold it.
  await ok('node', 'demote', 'n3');
  await waitFor(() => !existsSync(path.join(w1.dataDir, 'tls', 'data.key')), { timeoutMs: 30_000, what: 'n3 forgot the data key' });
  t.pass('a demoted manager removes its data key');
});
