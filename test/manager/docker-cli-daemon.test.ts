import t from 'tap';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { distFile } from '../helpers/dist.js';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { shoalProcess } from '../cli/helpers.js';
import { onPath } from '../helpers/on-path.js';

/**
 * The real docker CLI against real Shoal daemons (not a fake context): a
 * manager and a worker started with `shoal init` / `shoal join`. The docker
 * binary is the first `docker` on PATH; without one the test is skipped,
 * saying so.
 */
const dockerPath = onPath('docker');
const dockerHome = mkdtempSync(path.join(tmpdir(), 'shoal-docker-home-'));
t.teardown(() => rmSync(dockerHome, { recursive: true, force: true }));

/** The cluster's admin bundle: the docker CLI reaches the API over TLS with it (DOCKER_TLS_VERIFY). */
let certPath = '';

function dockerEnv(host: string): NodeJS.ProcessEnv {
  return {
    DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: certPath,
    PATH: process.env.PATH ?? '',
    HOME: dockerHome,
    DOCKER_CONFIG: dockerHome,
    DOCKER_HOST: `tcp://${host}`,
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1',
    DOCKER_CLI_HINTS: 'false',
  };
}

function docker(host: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(dockerPath!, args, { env: dockerEnv(host), timeout: 60_000 }, (err, out, errOut) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, out: String(out), err: String(errOut) });
    });
  });
}

/** A long-running command (a log follower) whose output accumulates; stop() kills it and waits for its exit. */
function follower(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
  const child: ChildProcess = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const f = { out: '', err: '', exited: false, stop: () => Promise.resolve() };
  child.stdout!.on('data', (d: Buffer) => (f.out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (f.err += d.toString()));
  const exit = new Promise<void>((r) => child.once('exit', () => ((f.exited = true), r())));
  f.stop = async () => {
    if (!f.exited) child.kill('SIGKILL');
    await exit;
  };
  return f;
}

/** A node as GET /nodes returns it: what the waits below look at. */
interface NodeJson {
  Description: { Hostname: string };
  Spec: { Availability: string };
  Status: { State: string };
  ManagerStatus?: { Leader?: boolean; Reachability?: string };
}

/** `docker service ps` rows of `svc` whose desired and current state are both Running. */
async function runningTasks(api: string, svc: string): Promise<number> {
  const r = await docker(api, 'service', 'ps', '--format', '{{.Name}}|{{.DesiredState}}|{{.CurrentState}}', svc);
  return r.out.split('\n').filter((l) => new RegExp(`^${svc}\\.\\d+\\|Running\\|Running `).test(l)).length;
}

t.test('docker node and service commands against a real cluster', async (t) => {
  if (!dockerPath) {
    t.plan(0, 'no docker CLI on PATH: skipping the real-daemon docker CLI test');
    return;
  }
  t.comment(`docker CLI: ${dockerPath}`);
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const w1 = await c.join('worker', m1);
  const api = `${m1.host}:${m1.apiPort}`;
  certPath = c.adminDir();
  // The shoal CLI goes through the manager's unix socket; the docker CLI through TLS: both ways in.
  const sock = `unix://${m1.dataDir}/api.sock`;
  // Waits poll the API over HTTP (no docker process per probe); once a wait holds, the docker
  // CLI runs once and the test asserts what it prints.
  const nodes = async () => (await c.http(m1, 'GET', '/nodes')).json<NodeJson[]>();
  const node = async (name: string) => (await nodes()).find((n) => n.Description.Hostname === name);
  /** What `runningTasks` counts, over HTTP: tasks of `svc` desired and currently running. */
  const runningOverHttp = async (svc: string) =>
    (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: [svc] })))).json<{ DesiredState: string; Status: { State: string } }[]>().filter((x) => x.DesiredState === 'running' && x.Status.State === 'running').length;

  await waitFor(async () => (await nodes()).filter((n) => n.Status.State === 'ready').length === 2, { timeoutMs: 20_000, what: 'two ready nodes' });
  const ls = (await docker(api, 'node', 'ls')).out;
  t.equal(ls.split('\n').filter((l) => /Ready/.test(l)).length, 2, 'docker node ls: two Ready nodes');
  t.match(ls, /n1\s+Ready\s+Active\s+Leader/, 'the manager leads');
  t.match(ls, /n2\s+Ready\s+Active\s+\n?/, 'the worker is ready');
  // The docker CLI over the manager's unix socket too (no TLS there: the socket is root's only).
  const viaSocket = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
    const env: NodeJS.ProcessEnv = { ...dockerEnv(api), DOCKER_HOST: sock };
    delete env.DOCKER_TLS_VERIFY;
    delete env.DOCKER_CERT_PATH;
    execFile(dockerPath!, ['node', 'ls'], { env, timeout: 60_000 }, (err, out, errOut) => resolve({ code: err ? 1 : 0, out: String(out), err: String(errOut) }));
  });
  t.equal(viaSocket.code, 0, `docker node ls over unix://: ${viaSocket.err}`);
  t.match(viaSocket.out, /n1\s+Ready\s+Active\s+Leader/, 'the docker CLI over the unix socket');

  let r = await docker(api, 'node', 'update', '--availability', 'drain', '--label-add', 'zone=a', 'n2');
  t.equal(r.code, 0, r.err);
  r = await docker(api, 'node', 'inspect', '--format', '{{ .Spec.Availability }} {{ index .Spec.Labels "zone" }}', 'n2');
  t.equal(r.out.trim(), 'drain a');
  await docker(api, 'node', 'update', '--availability', 'active', 'n2');

  // Promotion starts a Raft member in the worker's process; it catches up and becomes a voter.
  r = await docker(api, 'node', 'promote', 'n2');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /Node n2 promoted to a manager in the swarm/);
  await waitFor(
    async () => {
      const n = await node('n2');
      return n?.Status.State === 'ready' && n.Spec.Availability === 'active' && n.ManagerStatus?.Reachability === 'reachable' && !n.ManagerStatus.Leader;
    },
    { timeoutMs: 30_000, what: 'n2 a reachable manager' },
  );
  t.match((await docker(api, 'node', 'ls')).out, /n2\s+Ready\s+Active\s+Reachable/, 'n2 is a reachable manager');
  await c.waitApi(w1);
  t.match((await docker(`${w1.host}:${w1.apiPort}`, 'node', 'ls')).out, /n1.*Leader/, 'and serves the API itself');
  r = await docker(api, 'node', 'demote', 'n2');
  t.equal(r.code, 0, r.err);
  // docker node ls prints "Reachable" for a manager that is reachable and not the leader.
  await waitFor(async () => !(await nodes()).some((n) => n.ManagerStatus && !n.ManagerStatus.Leader && n.ManagerStatus.Reachability === 'reachable'), { timeoutMs: 20_000, what: 'n2 demoted' });
  t.notMatch((await docker(api, 'node', 'ls')).out, /Reachable/, 'docker node ls: n2 no longer a reachable manager');

  r = await docker(api, 'service', 'create', '-d', '--no-resolve-image', '--name', 'web', '--replicas', '2', '--reserve-memory', '16M', 'busybox', 'sleep', '600');
  t.equal(r.code, 0, r.err);
  t.match(r.out.trim(), /^[0-9a-z]{25}$/, 'prints the service ID');
  t.match((await docker(api, 'service', 'ls')).out, /web\s+replicated\s+\d\/2\s+busybox/);
  await waitFor(async () => (await runningOverHttp('web')) === 2, { timeoutMs: 30_000, what: 'two web tasks running' });
  t.equal(await runningTasks(api, 'web'), 2, 'both web tasks are Running in docker service ps');
  r = await docker(api, 'service', 'scale', '-d', 'web=4');
  t.match(r.out, /web scaled to 4/);
  await waitFor(async () => (await runningOverHttp('web')) === 4, { timeoutMs: 30_000, what: 'four web tasks running' });
  t.equal(await runningTasks(api, 'web'), 4, 'four web tasks Running in docker service ps');
  r = await docker(api, 'service', 'update', '-d', '--env-add', 'A=1', 'web');
  t.equal(r.code, 0, r.err);
  r = await docker(api, 'service', 'inspect', '--format', '{{ .Spec.TaskTemplate.ContainerSpec.Env }} {{ .Spec.Mode.Replicated.Replicas }}', 'web');
  t.equal(r.out.trim(), '[A=1] 4');
  r = await docker(api, 'service', 'rm', 'web');
  t.equal(r.code, 0, r.err);
  t.notMatch((await docker(api, 'service', 'ls')).out, /\sweb\s/);

  // Service logs: a task on the process runtime prints three lines, then one
  // more once the test creates a trigger file (so followers see a line that
  // is printed after they started).
  const trigger = path.join(c.dir, 'print-later');
  const script = `for i in 1 2 3; do echo line-$i; done; while [ ! -e ${trigger} ]; do sleep 0.1; done; echo later-line; sleep 600`;
  r = await docker(api, 'service', 'create', '-d', '--no-resolve-image', '--name', 'logs', 'busybox', 'sh', '-c', script);
  t.equal(r.code, 0, r.err);
  await waitFor(async () => (await runningOverHttp('logs')) === 1, { timeoutMs: 30_000, what: 'the logs task running' });
  t.equal(await runningTasks(api, 'logs'), 1, 'the logs task Running in docker service ps');
  const lineRows = (out: string) => out.split('\n').filter((l) => /line-\d/.test(l));
  // The API's multiplexed stream, one frame per line: three lines holding line-N.
  await waitFor(async () => ((await c.http(m1, 'GET', '/services/logs/logs?stdout=1&stderr=1')).body.match(/line-\d/g) ?? []).length === 3, { timeoutMs: 15_000, what: 'the service logs holding three lines' });
  r = await docker(api, 'service', 'logs', 'logs');
  t.equal(r.code, 0, r.err);
  const rows = lineRows(r.out);
  t.same(rows.map((l) => l.replace(/^.*\| /, '')), ['line-1', 'line-2', 'line-3'], 'docker service logs: the lines, in order');
  t.match(rows[0], /^logs\.1\.[0-9a-z]+@n[12]\s+\| line-1$/, 'each prefixed with task@node as docker does');
  r = await docker(api, 'service', 'logs', '--tail', '1', 'logs');
  t.equal(r.code, 0, r.err);
  t.same(lineRows(r.out).map((l) => l.replace(/^.*\| /, '')), ['line-3'], 'docker service logs --tail 1: only the last line');
  r = await docker(api, 'service', 'logs', '--raw', '--timestamps', 'logs');
  t.equal(r.code, 0, r.err);
  const stamped = lineRows(r.out);
  t.equal(stamped.length, 3);
  for (const l of stamped) t.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) line-\d$/, `docker service logs -t: RFC 3339 timestamp first (${l})`);
  const t0 = Date.parse(stamped[0]!.split(' ')[0]!);
  t.ok(Math.abs(Date.now() - t0) < 120_000, 'and the timestamps are of now');
  r = await docker(api, 'service', 'logs', '-t', 'logs');
  t.match(lineRows(r.out)[0], /^\d{4}-\d\d-\d\dT\S+ logs\.1\.[0-9a-z]+@n[12]\s+\| line-1$/, 'with the task prefix, docker puts the timestamp first');

  // shoal service logs, the same flags.
  let s = await shoalProcess(['service', 'logs', 'logs'], { host: sock });
  t.equal(s.code, 0, s.err);
  t.same(lineRows(s.out).map((l) => l.replace(/^.*\| /, '')), ['line-1', 'line-2', 'line-3'], 'shoal service logs: the lines, in order');
  t.match(lineRows(s.out)[0], /^logs\.1\.[0-9a-z]+@n[12]\s+\| line-1$/, 'with the same task@node prefix');
  s = await shoalProcess(['service', 'logs', '--tail', '1', 'logs'], { host: sock });
  t.equal(s.code, 0, s.err);
  t.same(lineRows(s.out).map((l) => l.replace(/^.*\| /, '')), ['line-3'], 'shoal service logs --tail 1: only the last line');
  s = await shoalProcess(['service', 'logs', '--timestamps', '--no-prefix', 'logs'], { host: sock });
  t.equal(s.code, 0, s.err);
  t.equal(lineRows(s.out).length, 3);
  for (const l of lineRows(s.out)) t.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) line-\d$/, `shoal service logs --timestamps: RFC 3339 first (${l})`);
  s = await shoalProcess(['service', 'logs', '-t', 'logs'], { host: sock });
  t.match(lineRows(s.out)[0], /^\d{4}-\d\d-\d\dT\S+ logs\.1\.[0-9a-z]+@n[12]\s+\| line-1$/, 'shoal service logs -t: timestamp first, then the prefix, as docker prints it');
  s = await shoalProcess(['service', 'logs', '--tail', 'x', 'logs'], { host: sock });
  t.equal(s.code, 1, 'shoal service logs --tail x is refused');

  // Following: both followers see the old lines, then the one printed later.
  const df = follower(dockerPath, ['service', 'logs', '--follow', 'logs'], dockerEnv(api));
  const sf = follower(process.execPath, [distFile('bin/shoal.js'), 'service', 'logs', '--follow', 'logs'], { ...process.env, NODE_OPTIONS: '', SHOAL_HOST: sock });
  t.teardown(() => Promise.all([df.stop(), sf.stop()]));
  await waitFor(() => /line-3/.test(df.out) && /line-3/.test(sf.out), { timeoutMs: 15_000, what: `both followers at line-3 (docker: ${JSON.stringify(df.out + df.err)}, shoal: ${JSON.stringify(sf.out + sf.err)})` });
  t.notMatch(df.out + sf.out, /later-line/, 'nothing later yet');
  writeFileSync(trigger, '');
  await waitFor(() => /later-line/.test(df.out) && /later-line/.test(sf.out), {
    timeoutMs: 15_000,
    what: `both followers to stream the later line (docker: ${JSON.stringify(df.out + df.err)}, shoal: ${JSON.stringify(sf.out + sf.err)})`,
  });
  t.notOk(df.exited || sf.exited, 'the followers are still following');
  t.pass('docker service logs -f and shoal service logs --follow stream a line printed after they started');
  await Promise.all([df.stop(), sf.stop()]);
  r = await docker(api, 'service', 'rm', 'logs');
  t.equal(r.code, 0, r.err);

  // A job with the real docker CLI: it waits with its own job progress display (which reads
  // JobStatus and the tasks' JobIteration) and returns once all three completed.
  r = await docker(api, 'service', 'create', '--no-resolve-image', '--name', 'batch', '--mode', 'replicated-job', '--replicas', '3', '--max-concurrent', '2', 'busybox', 'sh', '-c', 'sleep 0.2');
  t.equal(r.code, 0, `docker service create --mode replicated-job: ${r.err}`);
  t.match(r.out + r.err, /job complete/, 'the docker CLI saw the job complete');
  r = await docker(api, 'service', 'ls', '--filter', 'name=batch', '--format', '{{.Mode}} {{.Replicas}}');
  t.match(r.out.trim(), /^replicated job 0\/\d \(3\/3 completed\)$/, `docker service ls: ${r.out}`);
  r = await docker(api, 'service', 'ps', '--format', '{{.DesiredState}}', 'batch');
  t.same(r.out.trim().split('\n'), ['Complete', 'Complete', 'Complete'], 'docker service ps: three Complete tasks');
  t.equal((await docker(api, 'service', 'rm', 'batch')).code, 0);

  // docker swarm update --dispatcher-heartbeat: the period is stored and acted on (a node whose
  // daemon is gone loses its tasks and goes down after 15 periods: 3 s, not the default 15 s).
  r = await docker(api, 'swarm', 'update', '--dispatcher-heartbeat', '200ms');
  t.equal(r.code, 0, r.err);
  r = await docker(api, 'info', '--format', '{{json .Swarm.Cluster.Spec.Dispatcher}}');
  t.equal(r.out.trim(), '{"HeartbeatPeriod":200000000}', `docker info shows the period: ${r.err}`);
  r = await docker(api, 'swarm', 'update', '--dispatcher-heartbeat', '10ms');
  t.match(r.err, /Spec\.Dispatcher\.HeartbeatPeriod.*at least 100ms/, 'a period under 100 ms is refused, naming the field');

  // A node that is gone can be removed.
  const gone = Date.now();
  await c.kill(w1);
  await waitFor(async () => (await node('n2'))?.Status.State === 'down', { timeoutMs: 20_000, what: 'n2 down' });
  const downMs = Date.now() - gone;
  t.match((await docker(api, 'node', 'ls')).out, /n2\s+Down/, 'docker node ls: n2 Down');
  // Not before 15 periods of 200 ms, and well before the default 15 s: the cluster's period is what counts.
  t.ok(downMs >= 3000 && downMs < 10_000, `down once its daemon was gone for 15 heartbeat periods (${downMs} ms)`);
  r = await docker(api, 'node', 'rm', 'n2');
  t.equal(r.code, 0, r.err);
  t.notMatch((await docker(api, 'node', 'ls')).out, /\sn2\s/, 'no node with hostname n2');
});
