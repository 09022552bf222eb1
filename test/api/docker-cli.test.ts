/**
 * The real docker CLI against the API server. Skipped (with a message) when
 * `docker` is not on PATH. The CLI runs with a scrubbed environment: its
 * own temp DOCKER_CONFIG and HOME (nothing touches the user's config), no
 * proxy variables, DOCKER_HOST pointing at our server. The server answers
 * /distribution at once with an error and nothing here can reach a registry
 * (most creates also pass --no-resolve-image).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { startApi, type TestApi } from './helpers.js';
import { shoalInProcess } from '../cli/helpers.js';

const dockerPresent = spawnSync('docker', ['--version'], { stdio: 'ignore' }).status === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(api: TestApi, home: string) {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    DOCKER_CONFIG: path.join(home, '.docker'),
    DOCKER_HOST: `tcp://127.0.0.1:${api.port}`,
    DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1',
    DOCKER_CLI_HINTS: 'false',
  };
  return (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      const child = execFile('docker', args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
      });
      child.stdin?.end();
    });
}

const lines = (s: string) => s.split('\n').filter((l) => l.trim() !== '');

async function setup(t: Test) {
  const api = await startApi();
  const home = mkdtempSync(path.join(os.tmpdir(), 'shoal-docker-cli-'));
  t.teardown(async () => {
    await api.close();
    rmSync(home, { recursive: true, force: true });
  });
  return { api, docker: cli(api, home) };
}

t.test('docker CLI', { skip: dockerPresent ? false : 'docker CLI not on PATH: skipping the real-CLI tests' }, async (t) => {
  t.test('version and info', async (t) => {
    const { api, docker } = await setup(t);
    const v = await docker('version', '--format', '{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}');
    t.equal(v.code, 0, v.stderr);
    t.equal(v.stdout.trim(), '0.1.0-test 1.47 1.47', 'the CLI negotiated down to 1.47');
    api.ctx.addNode({ hostname: 'wrk-1' });
    const i = await docker('info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.NodeID}} {{.Swarm.ControlAvailable}} {{.Swarm.Nodes}} {{.Swarm.Managers}} {{.Swarm.NodeAddr}}');
    t.equal(i.code, 0, i.stderr);
    t.equal(i.stdout.trim(), `active ${api.ctx.selfId} true 2 1 127.0.0.1`);
    const full = await docker('info');
    t.equal(full.code, 0, full.stderr);
    t.match(full.stdout, /Swarm: active/);
    t.match(full.stdout, /Is Manager: true/);
    t.match(full.stdout, new RegExp(`ClusterID: ${api.ctx.store.list('cluster')[0]!.ID}`));
    t.match(full.stdout, /Manager Addresses:\n\s+127\.0\.0\.1:4242/);
  });

  t.test('node ls / inspect / update / promote / demote / rm', async (t) => {
    const { api, docker } = await setup(t);
    const ctx = api.ctx;
    const w1 = ctx.addNode({ hostname: 'wrk-1' });
    ctx.addNode({ hostname: 'wrk-2', state: 'down' });

    const ls = await docker('node', 'ls');
    t.equal(ls.code, 0, ls.stderr);
    const rows = lines(ls.stdout);
    t.match(rows[0], /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION$/);
    t.match(rows.find((r) => r.includes('mgr-1')), new RegExp(`^${ctx.selfId} \\*\\s+mgr-1\\s+Ready\\s+Active\\s+Leader\\s+0\\.1\\.0$`), 'self marked with *, leader');
    t.match(rows.find((r) => r.includes('wrk-1')), new RegExp(`^${w1}\\s+wrk-1\\s+Ready\\s+Active\\s+0\\.1\\.0$`));
    t.match(rows.find((r) => r.includes('wrk-2')), /\s+wrk-2\s+Down\s+Active\s+/);

    const fmt = await docker('node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}} {{.Self}}');
    t.same(lines(fmt.stdout).sort(), ['mgr-1 Ready Active Leader true', 'wrk-1 Ready Active  false', 'wrk-2 Down Active  false']);
    const q = await docker('node', 'ls', '-q', '--filter', 'role=worker');
    t.equal(lines(q.stdout).length, 2);
    t.ok(lines(q.stdout).includes(w1));

    const self = await docker('node', 'inspect', 'self', '--format', '{{.ID}} {{.Description.Hostname}} {{.Spec.Role}} {{.ManagerStatus.Leader}}');
    t.equal(self.code, 0, self.stderr);
    t.equal(self.stdout.trim(), `${ctx.selfId} mgr-1 manager true`);
    const pretty = await docker('node', 'inspect', '--pretty', 'wrk-1');
    t.equal(pretty.code, 0, pretty.stderr);
    t.match(pretty.stdout, /Hostname:\s+wrk-1/);
    t.match(pretty.stdout, /State:\s+Ready/);

    const drain = await docker('node', 'update', '--availability', 'drain', 'wrk-1');
    t.equal(drain.code, 0, drain.stderr);
    t.equal(drain.stdout.trim(), 'wrk-1');
    t.equal(ctx.store.get('node', w1)!.Spec.Availability, 'drain');
    const label = await docker('node', 'update', '--label-add', 'zone=a', '--label-add', 'ssd', 'wrk-1');
    t.equal(label.code, 0, label.stderr);
    t.same(ctx.store.get('node', w1)!.Spec.Labels, { zone: 'a', ssd: '' });
    t.equal(ctx.store.get('node', w1)!.Spec.Availability, 'drain', 'the earlier change was kept');
    const filtered = await docker('node', 'ls', '--format', '{{.Hostname}}', '--filter', 'node.label=zone=a');
    t.equal(filtered.stdout.trim(), 'wrk-1');

    const promote = await docker('node', 'promote', 'wrk-1');
    t.equal(promote.code, 0, promote.stderr);
    t.equal(promote.stdout.trim(), 'Node wrk-1 promoted to a manager in the swarm.');
    t.same(ctx.calls.promote, [w1]);
    const ls2 = await docker('node', 'ls', '--format', '{{.Hostname}} {{.ManagerStatus}}', '--filter', 'role=manager');
    t.same(lines(ls2.stdout).sort(), ['mgr-1 Leader', 'wrk-1 Reachable']);
    const demote = await docker('node', 'demote', 'wrk-1');
    t.equal(demote.code, 0, demote.stderr);
    t.equal(demote.stdout.trim(), 'Manager wrk-1 demoted in the swarm.');
    t.same(ctx.calls.demote, [w1]);
    const last = await docker('node', 'demote', 'mgr-1');
    t.not(last.code, 0);
    t.match(last.stderr, /attempting to demote the last manager/);

    const rm = await docker('node', 'rm', 'wrk-1');
    t.not(rm.code, 0);
    t.match(rm.stderr, /Error response from daemon: node \S+ is not down and can't be removed/);
    const rmf = await docker('node', 'rm', '--force', 'wrk-1');
    t.equal(rmf.code, 0, rmf.stderr);
    t.equal(rmf.stdout.trim(), 'wrk-1');
    t.equal(ctx.store.get('node', w1), undefined);
    const gone = await docker('node', 'inspect', 'wrk-1');
    t.not(gone.code, 0);
    t.match(gone.stderr, /node wrk-1 not found/);
  });

  t.test('service create / ls / ps / inspect / scale / update / rollback / rm', async (t) => {
    const { api, docker } = await setup(t);
    const ctx = api.ctx;
    const create = await docker(
      'service', 'create', '-d', '--no-resolve-image', '--name', 'web', '--replicas', '3',
      '--constraint', 'node.role==manager', '--reserve-memory', '64M', '--label', 'tier=front',
      '--publish', '8080:80', '--health-cmd', 'wget -q -O- localhost', '--health-interval', '2s', '--health-retries', '2',
      '--update-failure-action', 'rollback', '--update-max-failure-ratio', '0.5', '--rollback-parallelism', '0',
      'busybox', 'sleep', '1000',
    );
    t.equal(create.code, 0, create.stderr);
    const id = create.stdout.trim();
    t.match(id, /^[0-9a-z]{25}$/, 'prints the service ID');
    const s = ctx.store.get('service', id)!;
    // The CLI normalises the reference (busybox → busybox:latest) before sending it.
    t.equal(s.Spec.TaskTemplate.ContainerSpec?.Image, 'busybox:latest');
    t.match(s.Spec, {
      Name: 'web',
      Labels: { tier: 'front' },
      Mode: { Replicated: { Replicas: 3 } },
      TaskTemplate: {
        ContainerSpec: { Image: 'busybox:latest', Args: ['sleep', '1000'], HealthCheck: { Test: ['CMD-SHELL', 'wget -q -O- localhost'], Interval: 2e9, Retries: 2 } },
        Resources: { Reservations: { MemoryBytes: 64 * 2 ** 20 } },
        Placement: { Constraints: ['node.role==manager'] },
      },
      UpdateConfig: { FailureAction: 'rollback', MaxFailureRatio: 0.5 },
      RollbackConfig: { Parallelism: 0 },
      EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080, Protocol: 'tcp', PublishMode: 'ingress' }] },
    });

    // Without --no-resolve-image the CLI asks /distribution: it gets an error at once, warns, and goes on.
    const started = Date.now();
    const warn = await docker('service', 'create', '-d', '--name', 'warned', 'busybox');
    t.equal(warn.code, 0, warn.stderr);
    t.match(warn.stderr, /image busybox:latest could not be accessed on a registry to record\s+its digest/);
    t.ok(Date.now() - started < 10_000, 'no registry wait');

    ctx.addTask(id, 1, { state: 'running', nodeId: ctx.selfId });
    ctx.addTask(id, 2, { state: 'running', nodeId: ctx.selfId });
    ctx.addTask(id, 3, { state: 'pending' });

    const ls = await docker('service', 'ls');
    t.equal(ls.code, 0, ls.stderr);
    const rows = lines(ls.stdout);
    t.match(rows[0], /^ID\s+NAME\s+MODE\s+REPLICAS\s+IMAGE\s+PORTS$/);
    t.match(rows.find((r) => r.includes(' web ')), new RegExp(`^${id.slice(0, 12)}\\s+web\\s+replicated\\s+2/3\\s+busybox:latest\\s+\\*:8080->80/tcp$`));
    t.match(rows.find((r) => r.includes('warned')), /\s+warned\s+replicated\s+0\/1\s+busybox:latest\s*$/);
    const lsf = await docker('service', 'ls', '--filter', 'label=tier=front', '--format', '{{.Name}} {{.Mode}} {{.Replicas}} {{.Image}}');
    t.equal(lsf.stdout.trim(), 'web replicated 2/3 busybox:latest');

    const ps = await docker('service', 'ps', 'web', '--format', '{{.Name}}|{{.Node}}|{{.DesiredState}}|{{.CurrentState}}|{{.Image}}');
    t.equal(ps.code, 0, ps.stderr);
    const psRows = lines(ps.stdout).sort();
    t.equal(psRows.length, 3);
    t.match(psRows[0], /^web\.1\|mgr-1\|Running\|Running .* ago\|busybox:latest$/);
    t.match(psRows[1], /^web\.2\|mgr-1\|Running\|Running .* ago\|busybox:latest$/);
    t.match(psRows[2], /^web\.3\|\|Running\|Pending .* ago\|busybox:latest$/);
    const psTable = await docker('service', 'ps', 'web');
    t.match(lines(psTable.stdout)[0], /^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR\s+PORTS$/);

    const insp = await docker('service', 'inspect', 'web', '--format', '{{.ID}} {{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}} {{.Spec.UpdateConfig.FailureAction}}');
    t.equal(insp.stdout.trim(), `${id} web 3 rollback`);
    const hc = await docker('service', 'inspect', 'web', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Healthcheck}}');
    t.same(JSON.parse(hc.stdout), { Test: ['CMD-SHELL', 'wget -q -O- localhost'], Interval: 2e9, Retries: 2 }, "docker service inspect reads the health check back (Go's field name)");
    const pretty = await docker('service', 'inspect', '--pretty', 'web');
    t.equal(pretty.code, 0, pretty.stderr);
    t.match(pretty.stdout, /Name:\s+web/);
    t.match(pretty.stdout, /Replicas:\s+3/);
    t.match(pretty.stdout, /Constraints:\s+\[node\.role==manager\]/);
    t.match(pretty.stdout, /PublishedPort = 8080/);

    const scale = await docker('service', 'scale', '-d', 'web=5');
    t.equal(scale.code, 0, scale.stderr);
    t.equal(scale.stdout.trim(), 'web scaled to 5');
    t.equal(ctx.store.get('service', id)!.Spec.Mode.Replicated?.Replicas, 5);

    const up = await docker('service', 'update', '-d', '--no-resolve-image', '--image', 'busybox:1.36', '--env-add', 'A=1', 'web');
    t.equal(up.code, 0, up.stderr);
    t.equal(up.stdout.trim(), 'web');
    const afterUp = ctx.store.get('service', id)!;
    t.equal(afterUp.Spec.TaskTemplate.ContainerSpec?.Image, 'busybox:1.36');
    t.same(afterUp.Spec.TaskTemplate.ContainerSpec?.Env, ['A=1']);
    t.equal(afterUp.PreviousSpec?.TaskTemplate.ContainerSpec?.Image, 'busybox:latest');
    t.equal(afterUp.Spec.Mode.Replicated?.Replicas, 5, 'the scale survived');

    const rb = await docker('service', 'update', '-d', '--rollback', 'web');
    t.equal(rb.code, 0, rb.stderr);
    t.equal(rb.stdout.trim(), 'web');
    const afterRb = ctx.store.get('service', id)!;
    t.equal(afterRb.Spec.TaskTemplate.ContainerSpec?.Image, 'busybox:latest');
    t.equal(afterRb.PreviousSpec?.TaskTemplate.ContainerSpec?.Image, 'busybox:1.36');
    t.equal(afterRb.UpdateStatus?.State, 'rollback_started');
    // `docker service rollback` is the same request as `update --rollback`: a second one swaps back.
    const rb2 = await docker('service', 'rollback', '-d', 'web');
    t.equal(rb2.code, 0, rb2.stderr);
    t.equal(ctx.store.get('service', id)!.Spec.TaskTemplate.ContainerSpec?.Image, 'busybox:1.36');

    const logs = await docker('service', 'logs', 'web');
    t.not(logs.code, 0);
    // This fake context has no cluster transport to read logs with; real logs are tested in test/worker/e2e.test.ts.
    t.match(logs.stderr, /logs need a manager with a cluster transport/);

    const rm = await docker('service', 'rm', 'web', 'warned');
    t.equal(rm.code, 0, rm.stderr);
    t.same(lines(rm.stdout), ['web', 'warned']);
    t.equal(ctx.store.count('service'), 0);
    const gone = await docker('service', 'inspect', 'web');
    t.not(gone.code, 0);
    t.match(gone.stderr, /no such service: web|service web not found/);
  });

  t.test('--format Go templates: shoal prints what the docker CLI prints, on the same objects', async (t) => {
    const { api, docker } = await setup(t);
    api.ctx.addNode({ hostname: 'wrk-1' });
    api.ctx.addNode({ hostname: 'wrk-2', state: 'down' });
    const mk = await docker('service', 'create', '-d', '--no-resolve-image', '--name', 'web', '--replicas', '2', '--label', 'tier=front', '--label', 'app=shop', 'busybox', 'sleep', '1000');
    t.equal(mk.code, 0, mk.stderr);
    const mk2 = await docker('service', 'create', '-d', '--no-resolve-image', '--name', 'api', '--mode', 'global', 'busybox', 'sleep', '1000');
    t.equal(mk2.code, 0, mk2.stderr);
    const shoal = async (...args: string[]) => {
      const r = await shoalInProcess('-H', `http://127.0.0.1:${api.port}`, ...args);
      t.equal(r.code, 0, `shoal ${args.join(' ')}: ${r.err}`);
      return r.out;
    };
    const cases: string[][] = [
      ['service', 'ls', '--format', '{{.Name}} {{.Mode}} {{.Image}}'],
      ['service', 'ls', '--format', '{{json .Name}}'],
      ['service', 'inspect', '--format', '{{.Spec.Name}} {{.Spec.Mode.Replicated.Replicas}}', 'web'],
      ['service', 'inspect', '--format', '{{range $k, $v := .Spec.Labels}}{{$k}}={{$v}};{{end}}', 'web'],
      ['service', 'inspect', '--format', '{{index .Spec.Labels "tier"}} {{len .Spec.Labels}} {{upper .Spec.Name}}', 'web'],
      ['service', 'inspect', '--format', '{{json .Spec.Labels}}', 'web'],
      ['service', 'inspect', '--format', '{{join .Spec.TaskTemplate.ContainerSpec.Args ","}}', 'web', 'api'],
      ['service', 'inspect', '--format', '{{if .Spec.Mode.Global}}global{{else}}replicated{{end}}', 'web', 'api'],
      ['node', 'ls', '--format', '{{.Hostname}} {{.Status}} {{.Availability}} {{.ManagerStatus}}'],
      ['node', 'inspect', '--format', '{{.Description.Hostname}} {{.Spec.Role}} {{.Status.State}}', 'wrk-1', 'wrk-2'],
    ];
    const sorted = (s: string) => lines(s).sort().join('\n');
    for (const c of cases) {
      const d = await docker(...c);
      t.equal(d.code, 0, `docker ${c.join(' ')}: ${d.stderr}`);
      t.equal(sorted(await shoal(...c)), sorted(d.stdout), `same output: ${c.join(' ')}`);
    }
    // `table …`: the same header names and columns (docker pads with the same tabwriter settings).
    const d = await docker('service', 'ls', '--format', 'table {{.Name}}\t{{.Mode}}');
    const ours = await shoal('service', 'ls', '--format', 'table {{.Name}}\t{{.Mode}}');
    t.equal(lines(ours)[0], lines(d.stdout)[0], 'the table header');
    t.equal(sorted(ours), sorted(d.stdout), 'the table');
  });

  t.test('errors reach the user: validation, conflicts', async (t) => {
    const { api, docker } = await setup(t);
    const bad = await docker('service', 'create', '-d', '--no-resolve-image', '--name', 'web', '--constraint', 'node.colour==red', 'busybox');
    t.not(bad.code, 0);
    t.match(bad.stderr, /Error response from daemon: Spec\.TaskTemplate\.Placement\.Constraints\[0\]: invalid constraint "node\.colour==red": unknown key/);
    const badName = await docker('service', 'create', '-d', '--no-resolve-image', '--name', 'web_', 'busybox');
    t.not(badName.code, 0);
    t.match(badName.stderr, /Spec\.Name: must be valid as a DNS name component/);
    const ok = await docker('service', 'create', '-d', '--no-resolve-image', '--name', 'web', 'busybox');
    t.equal(ok.code, 0, ok.stderr);
    const dup = await docker('service', 'create', '-d', '--no-resolve-image', '--name', 'web', 'busybox');
    t.not(dup.code, 0);
    t.match(dup.stderr, /service with name web already exists/);
    const neg = await docker('service', 'scale', '-d', 'web=-1');
    t.not(neg.code, 0, 'the CLI refuses a negative scale itself');
    t.equal(api.ctx.store.count('service'), 1);
  });

  t.test('swarm join-token (and --rotate), unlock-key', async (t) => {
    const { api, docker } = await setup(t);
    const tokens = api.ctx.store.list('cluster')[0]!.JoinTokens;
    const w = await docker('swarm', 'join-token', '-q', 'worker');
    t.equal(w.code, 0, w.stderr);
    t.equal(w.stdout.trim(), tokens.Worker);
    const full = await docker('swarm', 'join-token', 'manager');
    t.match(full.stdout, new RegExp(`docker swarm join --token ${tokens.Manager} 127\\.0\\.0\\.1:4242`));
    const rot = await docker('swarm', 'join-token', '--rotate', '-q', 'worker');
    t.equal(rot.code, 0, rot.stderr);
    const now = api.ctx.store.list('cluster')[0]!.JoinTokens;
    t.equal(rot.stdout.trim(), now.Worker);
    t.not(now.Worker, tokens.Worker);
    t.equal(now.Manager, tokens.Manager);
    const uk = await docker('swarm', 'unlock-key');
    t.match(uk.stdout + uk.stderr, /no unlock key is set/);
  });

  t.test('networks, global and job modes, node ps, --force, stack ls', async (t) => {
    const { api, docker } = await setup(t);
    const ctx = api.ctx;
    const nc = await docker('network', 'create', '-d', 'overlay', 'mesh');
    t.equal(nc.code, 0, nc.stderr);
    const g = await docker('service', 'create', '-d', '--no-resolve-image', '--network', 'mesh', '--mode', 'global', '--name', 'g', 'busybox');
    t.equal(g.code, 0, g.stderr);
    const gs = ctx.store.find('service', 'g')!;
    t.same(gs.Spec.Mode, { Global: {} });
    const meshId = (await api.req('GET', '/networks/mesh')).body.Id;
    t.same(gs.Spec.TaskTemplate.Networks, [{ Target: meshId }], 'the CLI resolved the network through GET /networks/mesh');
    const ing = await docker('service', 'create', '-d', '--no-resolve-image', '--network', 'ingress', '--name', 'ing', 'busybox');
    t.not(ing.code, 0, 'attaching to ingress explicitly is refused, as dockerd does');
    const nonet = await docker('service', 'create', '-d', '--no-resolve-image', '--network', 'nonet', '--name', 'x', 'busybox');
    t.not(nonet.code, 0);
    t.match(nonet.stderr, /network nonet not found/);
    const j = await docker('service', 'create', '-d', '--no-resolve-image', '--mode', 'replicated-job', '--replicas', '3', '--name', 'j', 'busybox', 'true');
    t.equal(j.code, 0, j.stderr);
    const w = await docker('service', 'create', '-d', '--no-resolve-image', '--replicas', '2', '--name', 'w', 'busybox');
    t.equal(w.code, 0, w.stderr);
    const wid = w.stdout.trim();
    ctx.addTask(wid, 1, { state: 'running', nodeId: ctx.selfId });
    const other = ctx.addNode({ hostname: 'wrk-1' });
    ctx.addTask(wid, 2, { state: 'running', nodeId: other });
    ctx.addTask(gs.ID, 0, { state: 'running', nodeId: other });

    const ls = await docker('service', 'ls', '--format', '{{.Name}} {{.Mode}} {{.Replicas}}');
    t.same(lines(ls.stdout).sort(), ['g global 1/1', 'j replicated job 0/3 (0/3 completed)', 'w replicated 2/2']);
    const nps = await docker('node', 'ps', 'self', '--format', '{{.Name}} {{.Node}}');
    t.equal(nps.code, 0, nps.stderr);
    t.same(lines(nps.stdout), ['w.1 mgr-1']);
    const nps2 = await docker('node', 'ps', 'wrk-1', '--format', '{{.Name}}');
    t.same(lines(nps2.stdout).sort(), [`g.${other}`, 'w.2'].sort());
    const sps = await docker('service', 'ps', '--filter', 'node=self', '--format', '{{.Name}}', 'w');
    t.same(lines(sps.stdout), ['w.1']);

    const before = ctx.store.get('service', wid)!.Spec.TaskTemplate.ForceUpdate ?? 0;
    const force = await docker('service', 'update', '-d', '--force', 'w');
    t.equal(force.code, 0, force.stderr);
    t.equal(ctx.store.get('service', wid)!.Spec.TaskTemplate.ForceUpdate, before + 1, '--force bumps ForceUpdate');
    const par = await docker('service', 'update', '-d', '--replicas', '4', '--update-parallelism', '2', 'w');
    t.equal(par.code, 0, par.stderr);
    t.match(ctx.store.get('service', wid)!.Spec, { Mode: { Replicated: { Replicas: 4 } }, UpdateConfig: { Parallelism: 2 } });

    const stacks = await docker('stack', 'ls');
    t.equal(stacks.code, 0, stacks.stderr);
    t.match(lines(stacks.stdout)[0], /^NAME\s+SERVICES$/);
    t.equal(lines(stacks.stdout).length, 1, 'no stacks yet');
  });

  t.test('non-detached create and scale wait for convergence (toy orchestrator marks tasks running)', async (t) => {
    const { api, docker } = await setup(t);
    const stop = api.ctx.autoConverge();
    t.teardown(stop);
    const create = await docker('service', 'create', '--no-resolve-image', '--update-monitor', '200ms', '--name', 'conv', '--replicas', '2', 'busybox', 'sleep', '1000');
    t.equal(create.code, 0, create.stderr);
    const id = api.ctx.store.find('service', 'conv')!.ID;
    t.match(create.stdout, new RegExp(`^${id}\\n`));
    t.match(create.stdout, /overall progress: 2 out of 2 tasks/);
    t.match(create.stdout, new RegExp(`verify: Service ${id} converged`));
    const scale = await docker('service', 'scale', 'conv=3');
    t.equal(scale.code, 0, scale.stderr);
    t.match(scale.stdout, /conv scaled to 3/);
    t.match(scale.stdout, /overall progress: 3 out of 3 tasks/);
    t.match(scale.stdout, /verify: Service conv converged/);
    const up = await docker('service', 'update', '--no-resolve-image', '--image', 'busybox:1.36', 'conv');
    t.equal(up.code, 0, up.stderr);
    t.match(up.stdout, /verify: Service conv converged/);
    const ps = await docker('service', 'ps', 'conv', '--filter', 'desired-state=running', '--format', '{{.Name}} {{.Image}}');
    t.same(lines(ps.stdout).sort(), ['conv.1 busybox:1.36', 'conv.2 busybox:1.36', 'conv.3 busybox:1.36']);
  });
});
