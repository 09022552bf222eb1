/**
 * Structured node logs on a real cluster (1 manager, 1 worker; real
 * processes): the manager logs JSON records to stderr, the worker to a
 * rotated --log-file at --log-level debug. `shoal node logs` reads either
 * through the manager's API: history with filters, rotated files included,
 * follow, the manager itself (`self`), and a clear error for a node that
 * cannot be reached. Records carry node, component, and task/service/term
 * where they apply.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { distFile } from '../helpers/dist.js';
import { oneLineError, shoalProcess } from '../cli/helpers.js';
import { parseRecord } from '../../src/util/log/pretty.js';
import type { LogRecord } from '../../src/util/log/interface.js';

const records = (text: string): LogRecord[] => text.split('\n').flatMap((l) => parseRecord(l) ?? []);

t.test('shoal node logs reads any node’s structured log through the API', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const logFile = path.join(c.dir, 'n2.log');
  const w2 = await c.join('worker', m1, { args: ['--log-file', logFile, '--log-level', 'debug', '--log-max-size', '16K', '--log-max-files', '3'] });
  const env = c.apiEnv(m1);
  const shoal = (...args: string[]) => shoalProcess(args, { env });
  const nodes = await waitFor(
    async () => {
      const ns = (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Description: { Hostname: string } }[]>();
      return ns.length === 2 && ns.every((n) => n.Description.Hostname) ? ns : undefined;
    },
    { what: 'two registered nodes' },
  );
  const idOf = (name: string) => nodes.find((n) => n.Description.Hostname === name)!.ID;

  // ---- what the manager writes on stderr: one JSON record per line, naming the node and the component
  const own = records(m1.stderr);
  t.ok(own.length > 3, `the manager's stderr holds records (${own.length})`);
  t.ok(own.every((r) => r.node === idOf('n1') && typeof r.component === 'string' && Number.isFinite(Date.parse(r.time))), 'each with node, component and time');
  t.equal(m1.stderr.split('\n').filter((l) => l && !parseRecord(l)).length, 0, 'and nothing else');

  // ---- a worker's log, through the API: pretty by default, JSON with --raw
  const pretty = await shoal('node', 'logs', 'n2');
  t.equal(pretty.code, 0, pretty.err);
  t.match(pretty.out, /^\S+Z INFO {2}node {2}agent session with manager /m, 'one readable line per record');
  const raw = await shoal('node', 'logs', '--raw', 'n2');
  const wr = records(raw.out);
  t.ok(wr.length > 3 && wr.every((r) => r.node === idOf('n2')), 'the worker’s records, each naming it');
  t.ok(wr.some((r) => r.component === 'supervisor') && wr.some((r) => r.component === 'node'), 'from its components');

  // ---- tasks: at debug, the agent records each task's states with task and service fields
  const svc = (await c.http(m1, 'POST', '/services/create', { Name: 'lg', Mode: { Replicated: { Replicas: 40 } }, TaskTemplate: { ContainerSpec: { Image: 'sleep', Args: ['600'] }, Runtime: 'process', Placement: { Constraints: ['node.role==worker'] } } })).json<{ ID: string }>();
  const running = async () => {
    const r = await shoal('node', 'logs', '--raw', '--component', 'agent', '--level', 'debug', 'n2');
    return new Set(records(r.out).filter((x) => x.state === 'running' && x.service === svc.ID).map((x) => x.task));
  };
  await waitFor(async () => (await running()).size === 40, { timeoutMs: 60_000, what: 'the worker logged 40 tasks running' });
  t.pass('every task’s start is a record with its task and service');

  // ---- rotation: the 16K file rotated, at most 3 files kept; reading spans them, in order
  await waitFor(() => readdirSync(c.dir).includes('n2.log.1'), { what: 'the worker’s log rotated' });
  t.ok(readdirSync(c.dir).filter((f) => f.startsWith('n2.log')).length <= 3, 'no more than 3 files');
  const all = records((await shoal('node', 'logs', '--raw', 'n2')).out);
  const times = all.map((r) => Date.parse(r.time));
  t.ok(times.every((x, i) => i === 0 || x >= times[i - 1]!), `${all.length} records, oldest first across the rotated files`);
  const tail = records((await shoal('node', 'logs', '--raw', '--tail', '3', 'n2')).out);
  t.same(tail, all.slice(-3), '--tail 3: the last three');
  t.same(records((await shoal('node', 'logs', '--raw', '--level', 'warn', 'n2')).out).filter((r) => r.level !== 'warn' && r.level !== 'error' && r.level !== 'fatal'), [], '--level warn: nothing below');

  // ---- follow: new records arrive as the worker writes them
  const follower = spawn(process.execPath, [distFile('bin/shoal.js'), 'node', 'logs', '-f', '--tail', '1', '--raw', '--component', 'agent', '--level', 'debug', 'n2'], { env: { ...process.env, NODE_OPTIONS: '', ...env } });
  let followed = '';
  follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
  t.teardown(() => void follower.kill());
  // --tail 1: the last record arrives first, proof that the follower is subscribed (it subscribes before it reads the history).
  await waitFor(() => records(followed).length >= 1, { what: 'the follower has the last record' });
  const scale = async (n: number) => {
    const s = (await c.http(m1, 'GET', `/services/${svc.ID}`)).json<{ Version: { Index: number }; Spec: { Mode: object } }>();
    t.equal((await c.http(m1, 'POST', `/services/${svc.ID}/update?version=${s.Version.Index}`, { ...s.Spec, Mode: { Replicated: { Replicas: n } } })).status, 200);
  };
  await scale(45);
  await waitFor(() => new Set(records(followed).slice(1).filter((r) => r.state === 'running').map((r) => r.task)).size >= 5, { timeoutMs: 30_000, what: `the follower sees the 5 new tasks start (${followed.length} bytes so far)` });
  t.notOk(records(followed).some((r) => r.component !== 'agent'), 'only the component asked for');

  // ---- the manager itself
  const self = records((await shoal('node', 'logs', '--raw', '--component', 'raft', 'self')).out);
  t.ok(self.some((r) => r.role === 'leader' && r.leader === idOf('n1') && typeof r.term === 'number'), 'self: the raft record of becoming leader, with its term');

  // ---- bad input: one line from the CLI, a 400 naming the field from the API
  t.equal(oneLineError(await shoal('node', 'logs', '--level', 'loud', 'n2')), null);
  t.equal(oneLineError(await shoal('node', 'logs', '--tail', 'x', 'n2')), null);
  const bad = await c.http(m1, 'GET', '/shoal/nodes/n2/logs?level=loud');
  t.equal(bad.status, 400);
  t.match(bad.json<{ message: string }>().message, /^level: expected one of trace, debug/);
  t.equal((await c.http(m1, 'GET', '/shoal/nodes/n2/logs?component=Not%20one')).status, 400);
  t.equal((await c.http(m1, 'GET', '/shoal/nodes/nope/logs')).status, 404);

  // ---- the records are counted by level on /metrics
  t.match((await c.http(m1, 'GET', '/metrics')).body, /\nshoal_log_records_total\{level="info",node="[0-9a-z]{25}"\} [1-9]/);

  // ---- a node that is gone: the API says so at once, and where its log is
  await c.kill(w2);
  const gone = await shoal('node', 'logs', 'n2');
  t.equal(oneLineError(gone), null);
  t.match(gone.err, /cannot reach node n2 at .*its log stays on its machine/);
});
