/**
 * Docker tasks on an overlay network, on real kernels and a real dockerd:
 * two Shoal nodes, each in its own network namespace on a test bridge (a
 * "machine"), with a private dockerd on its own socket. Service `dweb`
 * (busybox httpd, 2 replicas, --runtime docker) runs in sandbox-held
 * namespaces (src/worker/runtime/docker/sandbox.ts); `client` is an oci task
 * on the worker. The client reaches both docker replicas by name through the
 * VIP, one of them across hosts over VXLAN; `tasks.dweb` lists both; a docker
 * task has its overlay address and the node's resolver in its own
 * /etc/resolv.conf and resolves the client's name; removing the service
 * removes every sandbox and every namespace binding, and removing the
 * client its namespace.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import type { NodeProc } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { dockerdAvailable, startDockerd } from '../helpers/dockerd.js';
import { nativePausePath } from '../../src/worker/runtime/docker/pause.js';
import { netnsOf } from '../../src/overlay-net/plan.js';
import { machinesUnavailable, run, startMachines, type TaskJson } from './machines.js';

const avail = dockerdAvailable();
const skip = machinesUnavailable() ?? (!avail.ok ? `docker runtime: ${avail.reason}` : !nativePausePath() ? 'the build made no shoal-pause (no C compiler or no static libc)' : null);

t.test('docker tasks join an overlay network: reached by name and VIP across hosts, resolve names, leave nothing behind', { skip: skip ?? false }, async (t) => {
  const d = await startDockerd({ name: 'overlay-docker' });
  t.teardown(() => d.stop());
  await d.importImage(busyboxRootfs().tarball, 'busybox:latest', ['CMD ["sh"]']);
  const { c, nodes, running } = await startMachines(t, 2, 'oci', 60, { DOCKER_HOST: `unix://${d.socketPath}` });
  const [m1] = nodes as [NodeProc, NodeProc];

  const net = await c.http(m1, 'POST', '/networks/create', { Name: 'app', Driver: 'overlay' });
  t.equal(net.status, 201, net.body);
  const netId = net.json<{ Id: string }>().Id;
  const container = (cmd: string) => ({ Image: 'busybox:latest', Command: ['sh', '-c', cmd] });
  const dweb = await c.http(m1, 'POST', '/services/create', {
    Name: 'dweb',
    TaskTemplate: {
      Runtime: 'docker',
      ContainerSpec: container('echo "dweb $(hostname)" > /tmp/index.html; exec httpd -f -p 80 -h /tmp'),
      Networks: [{ Target: 'app' }],
      Placement: { MaxReplicas: 1 },
    },
    Mode: { Replicated: { Replicas: 2 } },
  });
  t.equal(dweb.status, 201, dweb.body);
  const client = await c.http(m1, 'POST', '/services/create', {
    Name: 'client',
    TaskTemplate: { ContainerSpec: container('exec sleep 3600'), Networks: [{ Target: 'app' }], Placement: { Constraints: ['node.role==worker'] } },
    Mode: { Replicated: { Replicas: 1 } },
  });
  t.equal(client.status, 201, client.body);

  const webTasks = await waitFor(() => running('dweb', 2), { timeoutMs: 90_000, what: `dweb 2/2 running\n${c.logs().slice(-3000)}` });
  const [clientTask] = await waitFor(() => running('client', 1), { timeoutMs: 60_000, what: 'client 1/1 running' });
  t.equal(new Set(webTasks.map((x) => x.NodeID)).size, 2, 'one docker replica on each machine');
  const addrOf = (x: TaskJson) => x.NetworksAttachments!.find((a) => a.Network.ID === netId)!.Addresses[0]!.split('/')[0]!;
  const webAddrs = webTasks.map(addrOf).sort();

  const inTask = async (task: TaskJson, ...cmd: string[]) => {
    const pid = task.Status.ContainerStatus!.PID!;
    const r = await run('nsenter', ['-t', String(pid), '-n', '-m', '--', 'timeout', '5', '/bin/busybox', ...cmd], { timeout: 10_000 }).catch((e: { stdout?: string; stderr?: string }) => ({ stdout: e.stdout ?? '', stderr: e.stderr ?? '' }));
    return r.stdout + r.stderr;
  };
  for (const w of webTasks) {
    t.match(await inTask(w, 'ip', '-o', '-4', 'addr'), new RegExp(`eth0\\s+inet ${addrOf(w).replace(/\./g, '\\.')}/`), `docker task ${w.ID.slice(0, 12)} has its overlay address on eth0`);
    t.match(await inTask(w, 'cat', '/etc/resolv.conf'), /^nameserver \d+\.\d+\.\d+\.\d+$/m, 'and the node resolver in its resolv.conf');
  }

  // From the oci client, by name through the VIP: both docker replicas answer, one across hosts.
  const seen = new Set<string>();
  await waitFor(
    async () => {
      const m = /dweb (\S+)/.exec(await inTask(clientTask!, 'wget', '-qO-', 'http://dweb/'));
      if (m) seen.add(m[1]!);
      return seen.size === 2;
    },
    { timeoutMs: 30_000, what: 'both docker replicas answer http://dweb/ from the client' },
  );
  t.pass(`http://dweb/ reached both docker replicas: ${[...seen].join(', ')}`);
  const lookup = await inTask(clientTask!, 'nslookup', 'tasks.dweb');
  for (const a of webAddrs) t.match(lookup, a, `tasks.dweb lists ${a}`);
  // And the other way: a docker task resolves the client through the node's resolver and reaches it.
  t.match(await inTask(webTasks[0]!, 'nslookup', 'tasks.client'), addrOf(clientTask!), 'a docker task resolves tasks.client');
  t.match(await inTask(webTasks[0]!, 'ping', '-c', '1', '-W', '2', addrOf(clientTask!)), /1 packets received/, 'and reaches the client task');

  // Each docker task has its sandbox; the namespace binding is the sandbox's.
  const sandboxes = async () => (await d.api<{ Id: string; Labels: Record<string, string> }[]>('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['shoal.sandbox.of'] }))}`)).body;
  t.same((await sandboxes()).map((s) => s.Labels['shoal.sandbox.of']).sort(), webTasks.map((w) => w.ID).sort(), 'one sandbox container per docker task');

  // Removal: no task container, no sandbox, no binding left.
  const rm = await c.http(m1, 'DELETE', '/services/dweb');
  t.equal(rm.status, 200, rm.body);
  let remaining = {};
  await waitFor(
    async () => {
      remaining = { tasks: (await c.http(m1, 'GET', '/tasks')).json<TaskJson[]>().filter((x) => webTasks.some((w) => w.ID === x.ID)).length, sandboxes: (await sandboxes()).length, bindings: webTasks.filter((w) => existsSync(`/run/netns/${netnsOf(w.ID)}`)).length };
      return Object.values(remaining).every((n) => n === 0);
    },
    { timeoutMs: 30_000, what: 'the docker tasks, their sandboxes and their namespace bindings gone' },
  ).catch((err: Error) => {
    throw new Error(`${err.message}: still there ${JSON.stringify(remaining)}`);
  });
  const left = (await d.api<unknown[]>('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['shoal.task.id'] }))}`)).body;
  t.equal(left.length, 0, 'no task container left in dockerd');
  // The oci client too: its namespace is the node's to remove (the test leaves none on the host).
  t.equal((await c.http(m1, 'DELETE', '/services/client')).status, 200);
  await waitFor(() => !existsSync(`/run/netns/${netnsOf(clientTask!.ID)}`), { timeoutMs: 30_000, what: "the client task's namespace removed" });
});
