/**
 * The real docker CLI (the first `docker` on PATH) drives secrets and
 * configs against a real Shoal cluster on 127.0.79.x: `docker secret create
 * x -` from stdin, ls, inspect (no data), a `docker service create --secret
 * x --config …` task that reads them into its log (the worker runs oci tasks
 * by default — the docker CLI cannot pick a runtime — from an imported
 * busybox image), `docker service logs`, `docker secret rm` refused while
 * used and accepted after `docker service rm`; `docker config
 * create/ls/inspect/rm`. Skipped without the docker CLI, root, runc or a
 * static busybox.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { shoalProcess } from '../cli/helpers.js';
import { OciRuntime } from '../../src/worker/runtime/oci/oci-runtime.js';
import { mounts, sweepSecretRoots } from './helpers.js';
import { onPath } from '../helpers/on-path.js';


const dockerPath = onPath('docker');
const runc = await new OciRuntime({ dataDir: '/nonexistent' }).availableFor('runc');
const skip = !dockerPath
  ? 'no docker CLI on PATH'
  : process.getuid?.() !== 0
    ? 'not root: the oci runtime and tmpfs mounts need root'
    : !runc.ok
      ? `runc unavailable: ${runc.reason}`
      : !busyboxBinary()
        ? 'busybox-static is not installed: no test image'
        : false;


t.test('docker secret and config commands, and a docker service using them, against a real cluster', { skip }, async (t) => {
  const dockerHome = mkdtempSync(path.join(tmpdir(), 'shoal-docker-home-'));
  const c = new ProcCluster(79);
  const secretRoots: string[] = [];
  t.teardown(async () => {
    await c.close();
    rmSync(dockerHome, { recursive: true, force: true });
    // Killed nodes leave their secrets roots (and any task's tmpfs) behind: sweep this cluster's.
    sweepSecretRoots(secretRoots);
  });
  const m1 = await c.init();
  // The docker CLI sends no runtime: the worker's default is oci.
  const w1 = await c.join('worker', m1, { args: ['--runtime', 'oci'] });
  const imp = await shoalProcess(['image', 'import', '--data-dir', w1.dataDir, 'busybox:latest', busyboxRootfs().tarball]);
  t.equal(imp.code, 0, `image import on the worker: ${imp.err}`);

  const env: NodeJS.ProcessEnv = {
    ...c.apiEnv(m1),
    PATH: process.env.PATH ?? '',
    HOME: dockerHome,
    DOCKER_CONFIG: dockerHome,
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1',
    DOCKER_CLI_HINTS: 'false',
  };
  const docker = (args: string[], input?: string) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) => {
      const child = execFile(dockerPath!, args, { env, timeout: 60_000 }, (err, out, errOut) => {
        resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, out: String(out), err: String(errOut) });
      });
      child.stdin!.end(input ?? '');
    });
  const ok = async (args: string[], input?: string) => {
    const r = await docker(args, input);
    t.equal(r.code, 0, `docker ${args.join(' ')}: ${r.err}`);
    return r.out;
  };

  await waitFor(async () => (await docker(['node', 'ls'])).out.split('\n').filter((l) => /Ready/.test(l)).length === 2, { timeoutMs: 30_000, what: 'two Ready nodes' });
  for (const nid of (await ok(['node', 'ls', '-q'])).trim().split('\n')) secretRoots.push(`/run/shoal/secrets/${nid}`);

  // Secrets.
  const plain = `S3CR3T-${randomBytes(12).toString('hex')}`;
  const id = (await ok(['secret', 'create', '--label', 'app=db', 'x', '-'], plain)).trim();
  t.match(id, /^[0-9a-z]{25}$/, 'docker secret create x - prints the ID');
  const ls = await ok(['secret', 'ls']);
  t.match(ls, /^ID\s+NAME\s+DRIVER\s+CREATED\s+UPDATED\n/, 'docker secret ls: the header');
  t.match(ls, new RegExp(`\\n${id}\\s+x\\s+.*ago\\s+.*ago\\n`), 'docker secret ls: the secret');
  t.equal((await ok(['secret', 'ls', '-q', '--filter', 'label=app=db'])).trim(), id, 'docker secret ls --filter label');
  const inspected = await ok(['secret', 'inspect', 'x']);
  const obj = (JSON.parse(inspected) as { ID: string; Spec: Record<string, unknown>; CreatedAt: string }[])[0]!;
  t.equal(obj.ID, id);
  t.same(obj.Spec, { Name: 'x', Labels: { app: 'db' } }, 'docker secret inspect: the spec, without Data');
  t.notOk(inspected.includes(plain) || inspected.includes(Buffer.from(plain).toString('base64')), 'docker secret inspect shows no data');
  t.equal((await ok(['secret', 'inspect', '--format', '{{.Spec.Name}} {{index .Spec.Labels "app"}}', id])).trim(), 'x db', 'inspect by ID with --format');
  const pretty = await ok(['secret', 'inspect', '--pretty', 'x']);
  t.match(pretty, /Name:\s+x\n/, 'docker secret inspect --pretty');

  // Configs.
  const conf = `listen ${randomBytes(4).toString('hex')}\n`;
  writeFileSync(path.join(c.dir, 'app.conf'), conf);
  const cid = (await ok(['config', 'create', 'appconf', path.join(c.dir, 'app.conf')])).trim();
  t.match(cid, /^[0-9a-z]{25}$/, 'docker config create prints the ID');
  t.match(await ok(['config', 'ls']), new RegExp(`^ID\\s+NAME\\s+CREATED\\s+UPDATED\\n${cid}\\s+appconf\\s+`), 'docker config ls');
  const cobj = (JSON.parse(await ok(['config', 'inspect', 'appconf'])) as { Spec: { Name: string; Data: string } }[])[0]!;
  t.equal(Buffer.from(cobj.Spec.Data, 'base64').toString(), conf, 'docker config inspect shows the data, as dockerd does');
  t.match(await ok(['config', 'inspect', '--pretty', 'appconf']), new RegExp(`Data:\\n${conf.trim()}`), 'docker config inspect --pretty prints the data');

  // A service using both.
  const script = 'echo "secret=$(cat /run/secrets/x)"; echo "config=$(cat /etc/app.conf)"; echo "mode $(stat -c "%a %u %g" /run/secrets/x)"; exec sleep 600';
  const created = await docker(['service', 'create', '-d', '--no-resolve-image', '--name', 'sreader', '--constraint', 'node.role==worker', '--secret', 'x', '--config', 'source=appconf,target=/etc/app.conf,mode=0400', 'busybox', 'sh', '-c', script]);
  t.equal(created.code, 0, `docker service create --secret x: ${created.err}`);
  const spec = JSON.parse(await ok(['service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec}}', 'sreader'])) as {
    Secrets: { File: { Name: string; UID: string; GID: string; Mode: number }; SecretID: string; SecretName: string }[];
    Configs: { File: { Name: string; Mode: number }; ConfigID: string; ConfigName: string }[];
  };
  t.same(spec.Secrets, [{ File: { Name: 'x', UID: '0', GID: '0', Mode: 0o444 }, SecretID: id, SecretName: 'x' }], 'the service references the secret as the docker CLI resolved it');
  t.same(spec.Configs, [{ File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 0o400 }, ConfigID: cid, ConfigName: 'appconf' }], 'and the config');

  let logs = '';
  try {
    await waitFor(async () => (logs = (await docker(['service', 'logs', 'sreader'])).out).includes('mode '), { timeoutMs: 60_000, what: 'docker service logs showing the task read its files' });
  } catch (err) {
    const ps = await docker(['service', 'ps', '--no-trunc', 'sreader']);
    throw new Error(`${(err as Error).message}\nlogs: ${JSON.stringify(logs)}\nps: ${ps.out}${ps.err}\n${c.logs()}`);
  }
  const line = (k: string) => logs.split('\n').map((l) => l.replace(/^.*?\| /, '')).find((l) => l.startsWith(k));
  t.equal(line('secret='), `secret=${plain}`, 'docker service logs: the task read /run/secrets/x');
  t.equal(line('config='), `config=${conf.trim()}`, 'and the config at its absolute target');
  t.equal(line('mode '), 'mode 444 0 0', "the secret file has docker's defaults");
  t.match(logs, /^sreader\.1\.[0-9a-z]+@n2\s+\| secret=/m, 'on the worker, with the task@node prefix');

  // In use: refused, naming the service; after docker service rm, accepted.
  const rm = await docker(['secret', 'rm', 'x']);
  t.not(rm.code, 0, 'docker secret rm of a used secret fails');
  t.match(rm.err, /secret 'x' is in use by the following service: sreader/, `the error names the service (${rm.err.trim()})`);
  const raw = await c.http(m1, 'DELETE', `/v1.47/secrets/${id}`);
  t.equal(raw.status, 409, `DELETE /secrets/{id} of a used secret is a 409 (${raw.body})`);
  const crm = await docker(['config', 'rm', 'appconf']);
  t.not(crm.code, 0, 'docker config rm of a used config fails');
  t.match(crm.err, /config 'appconf' is in use by the following service: sreader/, `the error names the service (${crm.err.trim()})`);

  const tasks = (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: ['sreader'] })))).json<{ ID: string; NodeID: string }[]>();
  t.equal(tasks.length, 1);
  const taskDir = path.join('/run/shoal/secrets', tasks[0]!.NodeID, tasks[0]!.ID);
  t.ok(mounts().includes(` ${taskDir} tmpfs `), "the task's tmpfs is mounted");

  await ok(['service', 'rm', 'sreader']);
  await waitFor(() => !mounts().includes(` ${taskDir} `) && !existsSync(taskDir), { timeoutMs: 30_000, what: "the task's secret tmpfs unmounted and removed" });
  t.equal((await ok(['secret', 'rm', 'x'])).trim(), 'x', 'docker secret rm after the service is gone');
  t.equal((await ok(['config', 'rm', 'appconf'])).trim(), 'appconf', 'docker config rm');
  t.equal((await ok(['secret', 'ls', '-q'])).trim(), '', 'no secrets left');
  t.equal((await ok(['config', 'ls', '-q'])).trim(), '', 'no configs left');

  // Bad input: a 4xx naming the problem, the node still serving.
  const empty = await docker(['secret', 'create', 'y', '-'], '');
  t.not(empty.code, 0, 'an empty secret is refused (by the docker CLI itself)');
  t.match(empty.err, /empty/i, `saying why (${empty.err.trim()})`);
  const noData = await c.http(m1, 'POST', '/v1.47/secrets/create', { Name: 'y' });
  t.equal(noData.status, 400, 'and by the API');
  t.match(noData.body, /Spec\.Data/, `naming the field (${noData.body.trim()})`);
  const tmpl = await docker(['secret', 'create', '--template-driver', 'golang', 'y', '-'], 'v');
  t.not(tmpl.code, 0, 'a templated secret is refused');
  t.match(tmpl.err, /Templating/, `naming the field (${tmpl.err.trim()})`);
  const drv = await docker(['secret', 'create', '--driver', 'vault', 'y']);
  t.not(drv.code, 0, 'a secret driver is refused');
  t.match(drv.err, /Driver/, `naming the field (${drv.err.trim()})`);
  const missing = await docker(['secret', 'inspect', 'nosuch']);
  t.not(missing.code, 0);
  t.match(missing.err, /No such secret: nosuch|not found/i, `inspect of an unknown secret (${missing.err.trim()})`);
  const svcMissing = await docker(['service', 'create', '-d', '--no-resolve-image', '--secret', 'nosuch', 'busybox', 'true']);
  t.not(svcMissing.code, 0, 'a service with an unknown secret is refused');
  t.match(svcMissing.err, /secret not found: nosuch|nosuch/, `naming it (${svcMissing.err.trim()})`);
  t.equal((await docker(['node', 'ls'])).code, 0, 'the manager still serves');
});
