/**
 * Secrets and configs delivered to a docker-runtime task: a one-node cluster
 * on 127.0.80.x whose node reaches a private dockerd (test/helpers/dockerd.ts,
 * DOCKER_HOST in the node's environment), busybox imported into that engine.
 * The task reads /run/secrets/<target> and /<config target> into its log,
 * with the mode/uid/gid asked for, read-only; no file under the node's data
 * dir or the engine's container configs holds the secret (the engine's log of
 * the task does, as it should); `service rm` unmounts the task's tmpfs.
 * Skipped without dockerd (or root) or a static busybox.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { dockerdAvailable, startDockerd } from '../helpers/dockerd.js';
import { shoalProcess } from '../cli/helpers.js';
import { filesUnder, mounts, sweepSecretRoots } from './helpers.js';

const avail = dockerdAvailable();
const skip = !avail.ok ? `docker runtime: ${avail.reason}` : !busyboxBinary() ? 'busybox-static is not installed: no test image' : false;

t.test('secrets and configs reach a docker task as read-only files with their modes', { skip }, async (t) => {
  const d = await startDockerd({ name: 'secrets-test' });
  const c = new ProcCluster(80, { DOCKER_HOST: `unix://${d.socketPath}` });
  const secretRoots: string[] = [];
  t.teardown(async () => {
    await c.close();
    await d.stop();
    sweepSecretRoots(secretRoots);
  });
  await d.importImage(busyboxRootfs().tarball, 'busybox:latest', ['CMD ["sh"]']);
  const m1 = await c.init();
  const host = `unix://${m1.dataDir}/api.sock`;
  const shoal = (...args: string[]) => shoalProcess(args, { host });
  const ok = async (...args: string[]) => {
    const r = await shoal(...args);
    t.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.err}`);
    return r.out;
  };
  const nodes = async () => (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Status: { State: string } }[]>();
  const [node] = await waitFor(async () => {
    const ns = await nodes();
    return ns.length === 1 && ns[0]!.Status.State === 'ready' ? ns : null;
  }, { timeoutMs: 30_000, what: `the node ready\n${c.logs()}` });
  secretRoots.push(`/run/shoal/secrets/${node!.ID}`);

  const plain = `S3CR3T-${randomBytes(12).toString('hex')}`;
  const configText = `conf-${randomBytes(6).toString('hex')}`;
  writeFileSync(path.join(c.dir, 's1'), plain);
  writeFileSync(path.join(c.dir, 'c1'), configText);
  await ok('secret', 'create', 'dbpass', path.join(c.dir, 's1'));
  await ok('config', 'create', 'appconf', path.join(c.dir, 'c1'));

  const script = [
    'echo "secret=$(cat /run/secrets/db_pass)"',
    'echo "config=$(cat /app.conf)"',
    'echo "modes $(stat -c "%a %u %g" /run/secrets/db_pass) | $(stat -c "%a %u %g" /app.conf)"',
    '(echo x >> /run/secrets/db_pass) 2>/dev/null && echo writable || echo read-only',
    'echo done',
    'exec sleep 600',
  ].join('; ');
  const create = await shoal(
    'service', 'create', '-d', '--name', 'dkreader', '--runtime', 'docker',
    '--secret', 'source=dbpass,target=db_pass,uid=1000,gid=1001,mode=0440',
    '--config', 'source=appconf,target=app.conf,mode=0400',
    'busybox', 'sh', '-c', script,
  );
  t.equal(create.code, 0, `${create.err}\n${c.logs()}`);

  let logs = '';
  try {
    await waitFor(async () => (logs = (await shoal('service', 'logs', 'dkreader')).out).includes('done'), { timeoutMs: 60_000, what: "the task's log to finish its checks" });
  } catch (err) {
    const ps = await shoal('service', 'ps', '--no-trunc', 'dkreader');
    throw new Error(`${(err as Error).message}\nlog: ${JSON.stringify(logs)}\nps: ${ps.out}${ps.err}\n${c.logs()}\n${d.log().slice(-3000)}`);
  }
  const line = (k: string) => logs.split('\n').map((l) => l.replace(/^.*?\| /, '')).find((l) => l.startsWith(k));
  t.equal(line('secret='), `secret=${plain}`, 'the task read its secret at /run/secrets/<target>');
  t.equal(line('config='), `config=${configText}`, 'the config is at /<target>');
  t.equal(line('modes '), 'modes 440 1000 1001 | 400 0 0', 'mode, uid and gid as asked');
  t.equal(line('writable') ?? line('read-only'), 'read-only', 'the secret file is read-only in the container');

  const tasks = (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: ['dkreader'], 'desired-state': ['running'] })))).json<{ ID: string }[]>();
  t.equal(tasks.length, 1);
  const taskDir = path.join(secretRoots[0]!, tasks[0]!.ID);
  t.ok(mounts().includes(` ${taskDir} tmpfs `), 'the task has its own tmpfs mount');

  // At rest: the node's data dir and the engine's container records hold no secret; the engine's log of the task does.
  const needles = [Buffer.from(plain), Buffer.from(Buffer.from(plain).toString('base64'))];
  const leaks: string[] = [];
  let inEngineLog = false;
  const files = [...filesUnder(m1.dataDir), ...filesUnder(path.join(d.dir, 'data', 'containers'))];
  for (const f of files) {
    let data: Buffer;
    try {
      data = readFileSync(f);
    } catch {
      continue;
    }
    const hit = needles.some((x) => data.includes(x));
    if (f.endsWith('-json.log')) {
      inEngineLog ||= hit;
      continue;
    }
    if (hit) leaks.push(f);
  }
  t.ok(inEngineLog, "the engine's log of the task has it (the scan finds what is there)");
  t.ok(files.length > 10, `${files.length} files scanned`);
  t.same(leaks, [], "no file under the node's data dir or the engine's container records holds the secret");

  t.equal(await ok('service', 'rm', 'dkreader'), 'dkreader\n');
  await waitFor(() => !mounts().includes(` ${taskDir} `) && !existsSync(taskDir), { timeoutMs: 30_000, what: "the task's secret tmpfs unmounted and removed" });
  t.pass("the task's tmpfs is gone after service rm");
  const left = await d.api<unknown[]>('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: [`shoal.task.id=${tasks[0]!.ID}`] }))}`);
  t.same(left.body, [], 'the container is gone');
  t.equal(await ok('secret', 'rm', 'dbpass'), 'dbpass\n');
  t.equal(await ok('config', 'rm', 'appconf'), 'appconf\n');
});
