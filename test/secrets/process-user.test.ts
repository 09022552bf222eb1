/**
 * A process task with a non-root User (nobody) reads its secrets from
 * $SHOAL_SECRETS_DIR: a one-node cluster on 127.0.81.x run as root. The
 * task's tmpfs is its user's (mode 0700), the directories above it only
 * traversable, so nobody reads a 0444 secret and one given to uid 65534 with
 * mode 0400, not one left to root with mode 0400, and cannot list other
 * tasks' directories. Skipped when not root (the process runtime switches
 * user only as root) or without a `nobody` user.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { shoalProcess } from '../cli/helpers.js';
import { mounts, sweepSecretRoots } from './helpers.js';

const hasNobody = /^nobody:[^:]*:65534:/m.test(readFileSync('/etc/passwd', 'utf8'));
const skip = process.getuid?.() !== 0 ? 'not root: the process runtime switches user only as root' : !hasNobody ? 'no nobody (65534) user on this host' : false;

t.test('a process task running as nobody reads the secrets given to it', { skip }, async (t) => {
  const c = new ProcCluster(81);
  const secretRoots: string[] = [];
  t.teardown(async () => {
    await c.close();
    sweepSecretRoots(secretRoots);
  });
  const m1 = await c.init();
  const host = `unix://${m1.dataDir}/api.sock`;
  const shoal = (...args: string[]) => shoalProcess(args, { host });
  const ok = async (...args: string[]) => {
    const r = await shoal(...args);
    t.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.err}`);
    return r.out;
  };
  const [node] = await waitFor(async () => {
    const ns = (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Status: { State: string } }[]>();
    return ns.length === 1 && ns[0]!.Status.State === 'ready' ? ns : null;
  }, { timeoutMs: 30_000, what: `the node ready\n${c.logs()}` });
  const root = `/run/shoal/secrets/${node!.ID}`;
  secretRoots.push(root);

  const a = `A-${randomBytes(8).toString('hex')}`;
  const b = `B-${randomBytes(8).toString('hex')}`;
  writeFileSync(path.join(c.dir, 'a'), a);
  writeFileSync(path.join(c.dir, 'b'), b);
  await ok('secret', 'create', 'sa', path.join(c.dir, 'a'));
  await ok('secret', 'create', 'sb', path.join(c.dir, 'b'));

  const script = [
    'echo "uid=$(id -u)"',
    'echo "open=$(cat $SHOAL_SECRETS_DIR/sa)"',
    'echo "mine=$(cat $SHOAL_SECRETS_DIR/mine)"',
    'cat $SHOAL_SECRETS_DIR/rootonly >/dev/null 2>&1 && echo rootonly=readable || echo rootonly=denied',
    `ls ${root} >/dev/null 2>&1 && echo list=allowed || echo list=denied`,
    'echo done',
    'exec sleep 600',
  ].join('; ');
  const create = await shoal(
    'service', 'create', '-d', '--name', 'asnobody', '--runtime', 'process', '--user', 'nobody', '--workdir', '/tmp',
    '--secret', 'sa',
    '--secret', 'source=sb,target=mine,uid=65534,mode=0400',
    '--secret', 'source=sb,target=rootonly,mode=0400',
    'sh', '-c', script,
  );
  t.equal(create.code, 0, `${create.err}\n${c.logs()}`);

  let logs = '';
  try {
    await waitFor(async () => (logs = (await shoal('service', 'logs', 'asnobody')).out).includes('done'), { timeoutMs: 60_000, what: "the task's log to finish its checks" });
  } catch (err) {
    const ps = await shoal('service', 'ps', '--no-trunc', 'asnobody');
    throw new Error(`${(err as Error).message}\nlog: ${JSON.stringify(logs)}\nps: ${ps.out}${ps.err}\n${c.logs()}`);
  }
  const line = (k: string) => logs.split('\n').map((l) => l.replace(/^.*?\| /, '')).find((l) => l.startsWith(k));
  t.equal(line('uid='), 'uid=65534', 'the task runs as nobody');
  t.equal(line('open='), `open=${a}`, 'it reads a secret with the default mode 0444');
  t.equal(line('mine='), `mine=${b}`, 'and one given to its uid with mode 0400');
  t.equal(line('rootonly='), 'rootonly=denied', 'not one left to root with mode 0400');
  t.equal(line('list='), 'list=denied', "it cannot list the node's task directories");

  const tasks = (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: ['asnobody'], 'desired-state': ['running'] })))).json<{ ID: string }[]>();
  const taskDir = path.join(root, tasks[0]!.ID);
  const st = statSync(taskDir);
  t.same([st.uid, st.gid, st.mode & 0o777], [65534, 65534, 0o700], "the task's tmpfs is its user's, mode 0700");
  t.equal(statSync(path.join(taskDir, 'secrets', 'rootonly')).uid, 0, 'a file keeps the owner asked for');

  t.equal(await ok('service', 'rm', 'asnobody'), 'asnobody\n');
  await waitFor(() => !mounts().includes(` ${taskDir} `) && !existsSync(taskDir), { timeoutMs: 30_000, what: "the task's secret tmpfs unmounted and removed" });
  t.pass("the task's tmpfs is gone after service rm");

  // An unknown user: the task is rejected saying so; the node carries on.
  t.equal((await shoal('service', 'create', '-d', '--name', 'nouser', '--runtime', 'process', '--user', 'no-such-user', '--secret', 'sa', 'sleep', '600')).code, 0);
  const rejected = await waitFor(async () => {
    const ts = (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: ['nouser'] })))).json<{ Status: { State: string; Err?: string } }[]>();
    return ts.find((x) => x.Status.State === 'rejected');
  }, { timeoutMs: 30_000, what: 'the nouser task rejected' });
  t.match(rejected.Status.Err, /user "no-such-user" not found/, `rejected with the reason (${rejected.Status.Err})`);
  t.equal(await ok('service', 'rm', 'nouser'), 'nouser\n');
  t.ok(m1.proc, 'the node is still running');
});
