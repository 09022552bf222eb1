/**
 * Secrets and configs delivered to an oci-runtime task (runc, a busybox image
 * imported into the worker's image store) in a real two-process cluster on
 * 127.0.78.x: the task reads /run/secrets/<target> and /<config target> into
 * its log; the files have the mode, uid and gid asked for and are read-only
 * bind mounts; no file under any data dir holds the secret except the task's
 * own log; `service rm` unmounts and deletes the task's tmpfs. Skipped when
 * not root, or without runc or a static busybox.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { shoalProcess } from '../cli/helpers.js';
import { OciRuntime } from '../../src/worker/runtime/oci/oci-runtime.js';
import { filesUnder, mounts, sweepSecretRoots } from './helpers.js';


const runc = await new OciRuntime({ dataDir: '/nonexistent' }).availableFor('runc');
const skip = process.getuid?.() !== 0 ? 'not root: the oci runtime and tmpfs mounts need root' : !runc.ok ? `runc unavailable: ${runc.reason}` : !busyboxBinary() ? 'busybox-static is not installed: no test image' : false;

t.test('secrets and configs reach an oci task as read-only files with their modes', { skip }, async (t) => {
  const c = new ProcCluster(78);
  const secretRoots: string[] = [];
  t.teardown(async () => {
    await c.close();
    sweepSecretRoots(secretRoots);
  });
  const m1 = await c.init();
  const w1 = await c.join('worker', m1);
  const host = `unix://${m1.dataDir}/api.sock`;
  const shoal = (...args: string[]) => shoalProcess(args, { host });
  const ok = async (...args: string[]) => {
    const r = await shoal(...args);
    t.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.err}`);
    return r.out;
  };
  const imp = await shoalProcess(['image', 'import', '--data-dir', w1.dataDir, 'busybox:latest', busyboxRootfs().tarball]);
  t.equal(imp.code, 0, `image import on the worker: ${imp.err}`);

  const nodes = async () => (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Description: { Hostname: string }; Status: { State: string } }[]>();
  await waitFor(async () => (await nodes()).filter((n) => n.Status.State === 'ready').length === 2, { timeoutMs: 30_000, what: `two ready nodes\n${c.logs()}` });
  const idOf = new Map((await nodes()).map((n) => [n.Description.Hostname, n.ID]));
  for (const id of idOf.values()) secretRoots.push(`/run/shoal/secrets/${id}`);

  const plain = `S3CR3T-${randomBytes(12).toString('hex')}`;
  const other = `other-${randomBytes(6).toString('hex')}`;
  const configText = `conf-${randomBytes(6).toString('hex')}`;
  writeFileSync(path.join(c.dir, 's1'), plain);
  writeFileSync(path.join(c.dir, 's2'), other);
  writeFileSync(path.join(c.dir, 'c1'), configText);
  await ok('secret', 'create', 'dbpass', path.join(c.dir, 's1'));
  await ok('secret', 'create', 'plain', path.join(c.dir, 's2'));
  await ok('config', 'create', 'appconf', path.join(c.dir, 'c1'));

  const script = [
    'echo "secret=$(cat /run/secrets/db_pass)"',
    'echo "plain=$(cat /run/secrets/plain)"',
    'echo "config=$(cat /app.conf)"',
    'echo "modes $(stat -c "%a %u %g" /run/secrets/db_pass) | $(stat -c "%a %u %g" /run/secrets/plain) | $(stat -c "%a %u %g" /app.conf)"',
    '(echo x >> /run/secrets/db_pass) 2>/dev/null && echo writable || echo read-only',
    'echo done',
    'exec sleep 600',
  ].join('; ');
  const create = await shoal(
    'service', 'create', '-d', '--name', 'ocireader', '--runtime', 'oci', '--constraint', 'node.role==worker',
    '--secret', 'source=dbpass,target=db_pass,uid=1000,gid=1001,mode=0440',
    '--secret', 'plain',
    '--config', 'source=appconf,target=app.conf,mode=0400',
    'busybox', 'sh', '-c', script,
  );
  t.equal(create.code, 0, `${create.err}\n${c.logs()}`);

  let logs = '';
  try {
    await waitFor(async () => (logs = (await shoal('service', 'logs', 'ocireader')).out).includes('done'), { timeoutMs: 60_000, what: "the task's log to finish its checks" });
  } catch (err) {
    const ps = await shoal('service', 'ps', '--no-trunc', 'ocireader');
    throw new Error(`${(err as Error).message}\nlog: ${JSON.stringify(logs)}\nps: ${ps.out}${ps.err}\n${c.logs()}`);
  }
  const line = (k: string) => logs.split('\n').map((l) => l.replace(/^.*?\| /, '')).find((l) => l.startsWith(k));
  t.equal(line('secret='), `secret=${plain}`, 'the task read its secret at /run/secrets/<target>');
  t.equal(line('plain='), `plain=${other}`, 'a secret with no target is at /run/secrets/<name>');
  t.equal(line('config='), `config=${configText}`, 'the config is at /<target>');
  t.equal(line('modes '), 'modes 440 1000 1001 | 444 0 0 | 400 0 0', 'mode, uid and gid as asked (docker defaults otherwise)');
  t.equal(line('writable') ?? line('read-only'), 'read-only', 'the secret files are read-only in the container');

  const tasks = (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: ['ocireader'], 'desired-state': ['running'] })))).json<{ ID: string; NodeID: string }[]>();
  t.equal(tasks.length, 1);
  const task = tasks[0]!;
  t.equal(task.NodeID, idOf.get('n2'), 'on the worker');
  const taskDir = path.join('/run/shoal/secrets', task.NodeID, task.ID);
  t.ok(mounts().includes(` ${taskDir} tmpfs `), 'the task has its own tmpfs mount');

  // At rest: no node's data dir holds the secret, except the task's own log output.
  const needles = [Buffer.from(plain), Buffer.from(Buffer.from(plain).toString('base64'))];
  let inOwnLog = false;
  let scanned = 0;
  const leaks: string[] = [];
  for (const n of c.nodes) {
    for (const f of filesUnder(n.dataDir)) {
      let data: Buffer;
      try {
        data = readFileSync(f);
      } catch {
        continue; // a file that went meanwhile (a WAL checkpointed)
      }
      scanned++;
      const hit = needles.some((x) => data.includes(x));
      if (f.includes(`${path.sep}tasks${path.sep}${task.ID}${path.sep}logs${path.sep}`)) {
        inOwnLog ||= hit;
        continue;
      }
      if (hit) leaks.push(path.relative(c.dir, f));
    }
  }
  t.ok(inOwnLog, "the task's own log has it (the scan finds what is there)");
  t.ok(scanned > 10, `${scanned} files scanned`);
  t.same(leaks, [], 'no other file under any data dir holds the secret (the container rootfs included)');

  t.equal(await ok('service', 'rm', 'ocireader'), 'ocireader\n');
  await waitFor(() => !mounts().includes(` ${taskDir} `) && !existsSync(taskDir), { timeoutMs: 30_000, what: "the task's secret tmpfs unmounted and removed" });
  t.pass("the task's tmpfs is gone after service rm");
  t.notOk(mounts().includes(`/${task.ID}/`), 'no mount of the task is left (rootfs, secret files)');
  t.equal(await ok('secret', 'rm', 'dbpass', 'plain'), 'dbpass\nplain\n');
  t.equal(await ok('config', 'rm', 'appconf'), 'appconf\n');
});
