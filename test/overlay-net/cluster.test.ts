import t from 'tap';
import type { NodeProc } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { machinesUnavailable, run, startMachines, type TaskJson } from './machines.js';

/**
 * Services that find and reach each other, on real kernels: three Shoal
 * nodes, each in its own network namespace with its own address on a test
 * bridge (a "machine"), oci tasks from busybox. Service `web` (busybox
 * httpd, 2 replicas) and `client` (1 replica) share an overlay network:
 * the client fetches http://web/ by name through the VIP and reaches every
 * replica across hosts over VXLAN; `tasks.web` lists every replica; the
 * published port answers on all three machines, including one without a
 * task; scaling adds backends; removing the services leaves nothing behind.
 */
const skip = machinesUnavailable();

t.test('overlay: discovery, VIP, mesh and cleanup across three netns machines', { skip: skip ?? false }, async (t) => {
  const { lab, c, nodes, tasks, running } = await startMachines(t, 3, 'oci', 200);
  const [m1, w1, w2] = nodes as [NodeProc, NodeProc, NodeProc];

  const net = await c.http(m1, 'POST', '/networks/create', { Name: 'app', Driver: 'overlay' });
  t.equal(net.status, 201, net.body);
  const netId = net.json<{ Id: string }>().Id;

  const container = (cmd: string) => ({ Image: 'busybox:latest', Command: ['sh', '-c', cmd] });
  const web = await c.http(m1, 'POST', '/services/create', {
    Name: 'web',
    TaskTemplate: { ContainerSpec: container('echo "web $(hostname)" > /tmp/index.html; exec httpd -f -p 80 -h /tmp'), Networks: [{ Target: 'app' }] },
    Mode: { Replicated: { Replicas: 2 } },
    EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
  });
  t.equal(web.status, 201, web.body);
  const client = await c.http(m1, 'POST', '/services/create', {
    Name: 'client',
    TaskTemplate: { ContainerSpec: container('exec sleep 3600'), Networks: [{ Target: 'app' }], Placement: { Constraints: ['node.role==worker'] } },
    Mode: { Replicated: { Replicas: 1 } },
  });
  t.equal(client.status, 201, client.body);

  const webTasks = await waitFor(() => running('web', 2), { timeoutMs: 60_000, what: 'web 2/2 running' });
  const [clientTask] = await waitFor(() => running('client', 1), { timeoutMs: 60_000, what: 'client 1/1 running' });
  const addrOf = (x: TaskJson) => x.NetworksAttachments!.find((a) => a.Network.ID === netId)!.Addresses[0]!.split('/')[0]!;
  const webAddrs = webTasks.map(addrOf).sort();
  t.equal(new Set(webAddrs).size, 2, `web tasks have their own addresses: ${webAddrs.join(', ')}`);

  // Inside the client task: its own network namespace and its own /etc (resolv.conf → the node's resolver).
  const inClient = async (...cmd: string[]) => {
    const pid = clientTask!.Status.ContainerStatus!.PID!;
    const r = await run('nsenter', ['-t', String(pid), '-n', '-m', '--', 'timeout', '5', '/bin/busybox', ...cmd], { timeout: 10_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
    return r.stdout + r.stderr;
  };
  t.match(await inClient('ip', '-o', '-4', 'addr'), new RegExp(addrOf(clientTask!).replace(/\./g, '\\.')), 'the client task has its overlay address');

  // By name through the VIP: both replicas answer, whatever node each runs on.
  const seen = new Set<string>();
  await waitFor(
    async () => {
      const out = await inClient('wget', '-qO-', 'http://web/');
      const m = /web (\S+)/.exec(out);
      if (m) seen.add(m[1]!);
      return seen.size === 2;
    },
    { timeoutMs: 30_000, what: 'both web replicas answer http://web/ from the client' },
  );
  t.pass(`http://web/ reached both replicas: ${[...seen].join(', ')}`);
  const lookup = await inClient('nslookup', 'tasks.web');
  for (const a of webAddrs) t.match(lookup, a, `tasks.web lists ${a}`);

  // The routing mesh: the published port answers on every machine, also one without a web task.
  for (let i = 1; i <= 3; i++) {
    const out = await waitFor(
      async () => {
        const r = await run('timeout', ['5', '/bin/busybox', 'wget', '-qO-', `http://${lab.host(i)}:8080/`]).catch(() => null);
        return r && /web /.test(r.stdout) ? r.stdout : null;
      },
      { timeoutMs: 15_000, what: `port 8080 on ${lab.host(i)}` },
    );
    t.match(out, /^web /, `published port answers on machine ${i}`);
  }

  // Scale to 4: the new replicas receive traffic.
  const svc = (await c.http(m1, 'GET', '/services/web')).json<{ ID: string; Version: { Index: number }; Spec: Record<string, unknown> }>();
  const up = await c.http(m1, 'POST', `/services/${svc.ID}/update?version=${svc.Version.Index}`, { ...svc.Spec, Mode: { Replicated: { Replicas: 4 } } });
  t.equal(up.status, 200, up.body);
  await waitFor(() => running('web', 4), { timeoutMs: 60_000, what: 'web 4/4 running' });
  const seen4 = new Set<string>();
  await waitFor(
    async () => {
      const m = /web (\S+)/.exec(await inClient('wget', '-qO-', 'http://web/'));
      if (m) seen4.add(m[1]!);
      return seen4.size === 4;
    },
    { timeoutMs: 30_000, what: 'all 4 replicas answer through the VIP' },
  );
  t.pass('after scaling, every replica answers through the VIP');

  // A machine dies (daemon, supervisor and tasks at once): its web tasks leave every other
  // machine's load balancer before their replacements run.
  const nodeIds = new Map((await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Description: { Hostname: string } }[]>().map((n) => [n.Description.Hostname, n.ID]));
  const now4 = (await tasks('web')).filter((x) => x.Status.State === 'running');
  const victim = [w1, w2].find((n) => now4.some((x) => x.NodeID === nodeIds.get(n.name)) && clientTask!.NodeID !== nodeIds.get(n.name)) ?? w2;
  const victimIdx = nodes.indexOf(victim) + 1;
  const lost = now4.filter((x) => x.NodeID === nodeIds.get(victim.name)).map(addrOf);
  t.ok(lost.length > 0, `${victim.name} runs web at ${lost.join(', ')}`);
  const survivors = [1, 2, 3].filter((i) => i !== victimIdx);
  const gone = new Map<number, number>();
  const crashedAt = Date.now();
  await c.crash(victim);
  // Each machine is read on its own, all at once: a reading is known only once its `nft list`
  // returns, and reading them one after the other made the second machine's time as late as
  // both calls together (a run failed by 13 ms so on a loaded fresh machine).
  await waitFor(
    async () => {
      await Promise.all(
        survivors.map(async (i) => {
          if (gone.has(i)) return;
          const table = (await run('nsenter', [`--net=/run/netns/${lab.ns(i)}`, 'nft', 'list', 'table', 'ip', 'shoal']).catch(() => ({ stdout: '' }))).stdout;
          if (!lost.some((a) => table.includes(a))) gone.set(i, Date.now());
        }),
      );
      return gone.size === survivors.length;
    },
    { timeoutMs: 30_000, intervalMs: 20, what: `${victim.name}'s endpoints out of the other machines' load balancers` },
  );
  const replaced = await waitFor(async () => {
    const l = (await tasks('web')).filter((x) => x.Status.State === 'running' && x.NodeID !== nodeIds.get(victim.name));
    return l.length === 4 ? l : null;
  }, { timeoutMs: 60_000, what: 'web 4/4 running again without the dead machine' });
  const firstReplacementRunning = Math.min(...replaced.filter((x) => !now4.some((o) => o.ID === x.ID)).map((x) => Date.parse((x.Status as { Timestamp?: string }).Timestamp ?? '')));
  const lastGone = Math.max(...gone.values());
  t.ok(lastGone <= firstReplacementRunning, `endpoints gone ${lastGone - crashedAt} ms after the crash, the first replacement running at ${firstReplacementRunning - crashedAt} ms`);
  // The machine comes back (its tasks died with it): it clears what it had built.
  await c.restart(victim);

  // Remove everything: no namespace, link or rule is left on any machine.
  const ours = new Set((await c.http(m1, 'GET', '/tasks')).json<TaskJson[]>().map((x) => `shoal-${x.ID.slice(0, 12)}`));
  for (const s of ['client', 'web']) t.equal((await c.http(m1, 'DELETE', `/services/${s}`)).status, 200);
  t.equal((await c.http(m1, 'DELETE', '/networks/app')).status, 204);
  const leftovers = async (n: NodeProc, i: number) => {
    const links = (await run('ip', ['-n', lab.ns(i), '-o', 'link'])).stdout.split('\n').filter((l) => /shbr|shvx|shv/.test(l));
    const tables = (await run('nsenter', [`--net=/run/netns/${lab.ns(i)}`, 'nft', 'list', 'tables'])).stdout.split('\n').filter((l) => /shoal/.test(l));
    return { node: n.name, links, tables };
  };
  await waitFor(
    async () => {
      const all = await Promise.all(nodes.map((n, i) => leftovers(n, i + 1)));
      // Namespace names are global on the machine: only this cluster's tasks' are checked.
      const netns = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter((l) => ours.has(l));
      return all.every((x) => x.links.length === 0 && x.tables.length === 0) && netns.length === 0 ? true : (t.comment(JSON.stringify({ all, netns })), false);
    },
    { timeoutMs: 30_000, intervalMs: 500, what: 'no overlay leftovers on any machine' },
  ).catch(async (err: Error) => {
    const all = (await c.http(m1, 'GET', '/tasks')).json<TaskJson[]>();
    const stuck = all.filter((x) => !['complete', 'failed', 'shutdown', 'rejected', 'orphaned', 'remove'].includes(x.Status.State));
    t.comment(`victim ${victim.name} = ${nodeIds.get(victim.name)}; not ended: ${JSON.stringify(stuck.map((x) => [x.ID, x.NodeID, x.Status.State, x.DesiredState]))}`);
    for (const x of stuck) for (const n of nodes) t.comment(`${n.name} on ${x.ID.slice(0, 8)}:\n${(n.stdout + n.stderr).split('\n').filter((l) => l.includes(x.ID.slice(0, 8))).join('\n')}`);
    t.comment(`${victim.name} after its restart:\n${(victim.stdout + victim.stderr).split('\n').slice(-60).join('\n')}`);
    throw err;
  });
  t.pass('no namespaces, links or nftables tables left');
});
