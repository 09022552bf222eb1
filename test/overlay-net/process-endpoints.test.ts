import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { waitFor } from '../helpers/wait.js';
import { machinesUnavailable, run, startMachines, type TaskJson } from './machines.js';

/**
 * Process-runtime tasks as real endpoints, on real kernels: two Shoal nodes
 * in their own network namespaces (machines), default runtime `process`.
 * Service `pweb` (3 process replicas of `busybox httpd -p $PORT`, so two
 * share a machine) publishes 80 as 8080: each task gets its own host port
 * (PORT, Status.PortStatus), the published port answers from every replica
 * on both machines (the mesh DNATs to machine:hostport, SNAT across
 * machines). An oci task (`oweb`) on the same overlay network reaches every
 * pweb replica through the VIP by name, and a process task (`probe`)
 * resolves `oweb` at SHOAL_DNS (the node's resolver) and fetches it through
 * its VIP from the node's own stack. A port added to pweb replaces its
 * process tasks (a running process cannot take a new host port), and the
 * new ones hold host ports for both target ports.
 */
const skip = machinesUnavailable();

t.test('process tasks: host ports, mesh, VIP from an oci task, VIP and DNS from a process task', { skip: skip ?? false }, async (t) => {
  const { lab, c, nodes, running } = await startMachines(t, 2, 'process', 150);
  const m1 = nodes[0]!;
  const out = mkdtempSync(path.join(tmpdir(), 'shoal-hp-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  t.equal((await c.http(m1, 'POST', '/networks/create', { Name: 'app', Driver: 'overlay' })).status, 201);

  const pweb = await c.http(m1, 'POST', '/services/create', {
    Name: 'pweb',
    TaskTemplate: { ContainerSpec: { Image: '/bin/busybox', Args: ['sh', '-c', 'echo "pweb $PORT $(pwd)" > index.html; exec /bin/busybox httpd -f -p $PORT -h .'] }, Networks: [{ Target: 'app' }] },
    Mode: { Replicated: { Replicas: 3 } },
    EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
  });
  t.equal(pweb.status, 201, pweb.body);
  const oweb = await c.http(m1, 'POST', '/services/create', {
    Name: 'oweb',
    TaskTemplate: { Runtime: 'oci', ContainerSpec: { Image: 'busybox:latest', Command: ['sh', '-c', 'echo oweb > /tmp/index.html; exec httpd -f -p 80 -h /tmp'] }, Networks: [{ Target: 'app' }] },
    Mode: { Replicated: { Replicas: 1 } },
  });
  t.equal(oweb.status, 201, oweb.body);

  const pTasks = await waitFor(() => running('pweb', 3), { timeoutMs: 60_000, what: 'pweb 3/3 running' });
  const hostPorts = pTasks.map((x) => `${x.NodeID}:${x.Status.PortStatus?.Ports?.[0]?.PublishedPort}`);
  t.ok(pTasks.every((x) => x.Status.PortStatus?.Ports?.[0]?.PublishMode === 'host' && x.Status.PortStatus.Ports[0].TargetPort === 80), 'PortStatus shows the host port of target 80');
  t.equal(new Set(hostPorts).size, 3, `no two tasks of one node share a host port: ${hostPorts.join(' ')}`);
  t.ok(new Set(pTasks.map((x) => x.NodeID)).size === 2, 'replicas on both machines');
  const [oTask] = await waitFor(() => running('oweb', 1), { timeoutMs: 60_000, what: 'oweb 1/1 running' });

  // The mesh from outside: every replica answers on both machines.
  for (let i = 1; i <= 2; i++) {
    const seen = new Set<string>();
    await waitFor(
      async () => {
        const r = await run('timeout', ['5', '/bin/busybox', 'wget', '-qO-', `http://${lab.host(i)}:8080/`]).catch(() => null);
        const m = r && /^pweb (\d+) (\S+)/.exec(r.stdout);
        if (m) seen.add(`${m[1]} ${m[2]}`);
        return seen.size === 3;
      },
      { timeoutMs: 30_000, what: `all 3 replicas through ${lab.host(i)}:8080` },
    );
    t.pass(`mesh on machine ${i} reached ${[...seen].map((x) => x.split(' ')[0]).join(', ')}`);
  }

  // An oci task reaches every process replica through the VIP, by name.
  const inOweb = async (...cmd: string[]) => {
    const r = await run('nsenter', ['-t', String(oTask!.Status.ContainerStatus!.PID!), '-n', '-m', '--', 'timeout', '5', '/bin/busybox', ...cmd], { timeout: 10_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
    return r.stdout + r.stderr;
  };
  const viaVip = new Set<string>();
  await waitFor(
    async () => {
      const m = /pweb (\d+) (\S+)/.exec(await inOweb('wget', '-qO-', 'http://pweb/'));
      if (m) viaVip.add(m[2]!);
      return viaVip.size === 3;
    },
    { timeoutMs: 30_000, what: 'all 3 process replicas through the VIP from the oci task' },
  );
  t.pass('http://pweb/ from an oci task reached every process replica');
  const lookup = await inOweb('nslookup', 'tasks.pweb');
  for (const i of [1, 2]) t.match(lookup, lab.host(i), `tasks.pweb lists machine ${lab.host(i)}`);

  // A process task: the node's resolver at SHOAL_DNS, and oweb's VIP from the node's own stack.
  const probe = await c.http(m1, 'POST', '/services/create', {
    Name: 'probe',
    TaskTemplate: {
      ContainerSpec: {
        Image: '/bin/busybox',
        Args: ['sh', '-c', `while true; do echo "dns=$SHOAL_DNS" > ${out}/env.tmp; mv ${out}/env.tmp ${out}/env; /bin/busybox nslookup oweb $SHOAL_DNS > ${out}/ns.tmp 2>&1; mv ${out}/ns.tmp ${out}/ns; /bin/busybox timeout 3 /bin/busybox wget -qO- http://$(/bin/busybox nslookup oweb $SHOAL_DNS | /bin/busybox awk '/^Address/ {a=$NF} END {print a}')/ > ${out}/web.tmp 2>&1; mv ${out}/web.tmp ${out}/web; sleep 1; done`],
      },
      Networks: [{ Target: 'app' }],
    },
    Mode: { Replicated: { Replicas: 1 } },
  });
  t.equal(probe.status, 201, probe.body);
  await waitFor(() => running('probe', 1), { timeoutMs: 60_000, what: 'probe running' });
  const vip = (await c.http(m1, 'GET', '/services/oweb')).json<{ Endpoint: { VirtualIPs: { Addr: string }[] } }>().Endpoint.VirtualIPs[0]!.Addr.split('/')[0]!;
  const read = (f: string) => (existsSync(path.join(out, f)) ? readFileSync(path.join(out, f), 'utf8') : '');
  await waitFor(async () => read('env').startsWith('dns=10.'), { timeoutMs: 30_000, what: 'the probe’s SHOAL_DNS' });
  await waitFor(async () => read('ns').includes(vip), { timeoutMs: 30_000, what: `oweb resolves to its VIP ${vip} at SHOAL_DNS` });
  t.pass(`a process task resolves oweb → ${vip} at ${read('env').trim()}`);
  await waitFor(async () => read('web').trim() === 'oweb', { timeoutMs: 30_000, what: 'the probe fetches oweb through its VIP' }).catch(async (err) => {
    t.comment(`web: ${read('web')}`);
    for (const i of [1, 2]) {
      const sh = async (...a: string[]) => (await run('nsenter', [`--net=/run/netns/${lab.ns(i)}`, ...a]).catch((e) => ({ stdout: String(e) }))).stdout;
      t.comment(`machine ${i}: ${await sh('ip', 'route', 'get', vip)}\n${await sh('nft', 'list', 'table', 'ip', 'shoal')}\n${await sh('ip', '-4', '-o', 'addr')}\n${await sh('conntrack', '-L')}`);
    }
    throw err;
  });
  t.pass('a process task reaches an overlay service through its VIP');

  // A port added to pweb: process tasks cannot take a new host port while they run, so the update replaces them.
  const before = new Set(pTasks.map((x) => x.ID));
  const cur = (await c.http(m1, 'GET', '/services/pweb')).json<{ Version: { Index: number }; Spec: { EndpointSpec: { Ports: object[] } } }>();
  cur.Spec.EndpointSpec.Ports.push({ TargetPort: 81, PublishedPort: 8081 });
  t.equal((await c.http(m1, 'POST', `/services/pweb/update?version=${cur.Version.Index}`, cur.Spec)).status, 200);
  const renewed = await waitFor(
    async () => {
      const ts = await running('pweb', 3);
      return ts && ts.every((x) => !before.has(x.ID) && (x.Status.PortStatus?.Ports ?? []).map((p) => p.TargetPort).sort().join() === '80,81') ? ts : undefined;
    },
    { timeoutMs: 60_000, what: 'pweb replaced by tasks holding host ports for 80 and 81' },
  );
  t.equal(renewed.length, 3, 'every process task was replaced, each now with a host port for 81 too');
  await waitFor(async () => /^pweb \d+/.test((await run('timeout', ['5', '/bin/busybox', 'wget', '-qO-', `http://${lab.host(1)}:8080/`]).catch(() => ({ stdout: '' }))).stdout), {
    timeoutMs: 30_000,
    what: '8080 answers from the new tasks',
  });
  t.equal((await running('oweb', 1))?.[0]?.ID, oTask!.ID, 'the oci task on the same network kept running (nothing else churned)');

  // Remove everything: no namespace, link or rule is left on either machine.
  const ours = new Set((await c.http(m1, 'GET', '/tasks')).json<TaskJson[]>().map((x) => `shoal-${x.ID.slice(0, 12)}`));
  for (const s of ['probe', 'oweb', 'pweb']) t.equal((await c.http(m1, 'DELETE', `/services/${s}`)).status, 200);
  t.equal((await c.http(m1, 'DELETE', '/networks/app')).status, 204);
  await waitFor(
    async () => {
      for (const i of [1, 2]) {
        const links = (await run('ip', ['-n', lab.ns(i), '-o', 'link'])).stdout.split('\n').filter((l) => /shbr|shvx|shv/.test(l));
        const tables = (await run('nsenter', [`--net=/run/netns/${lab.ns(i)}`, 'nft', 'list', 'tables'])).stdout.split('\n').filter((l) => /shoal/.test(l));
        if (links.length > 0 || tables.length > 0) return false;
      }
      return !(await run('ip', ['netns', 'list'])).stdout.split('\n').some((l) => ours.has(l.split(' ')[0]!));
    },
    { timeoutMs: 30_000, intervalMs: 500, what: 'no overlay leftovers on either machine' },
  );
  t.pass('no namespaces, links or nftables tables left');
});
