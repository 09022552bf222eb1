/**
 * A task that publishes ports (on an overlay network, in a namespace of its
 * own) is reported running only once it listens on them: from `running` on
 * it is a load-balancer backend, and a start-first update stops the task it
 * replaces. Checked with the real /proc of this test process as the task's
 * namespace and a real TCP listener opened late, a real task db, and real
 * time; the runtime is in memory (named oci: process tasks share the node's
 * namespace and are not gated).
 */
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listeningPorts } from '../../src/worker/agent/listening.js';
import { TaskController } from '../../src/worker/agent/task-controller.js';
import { TaskDb } from '../../src/worker/agent/task-db.js';
import { TaskNetworks } from '../../src/worker/agent/task-networks.js';
import type { Task, TaskStatus } from '../../src/model/index.js';
import type { NodePlan } from '../../src/overlay-net/interface.js';
import type { Runtime } from '../../src/worker/runtime/interface.js';
import { systemTimers } from '../../src/util/timers.js';
import { silentLogger } from '../../src/util/log/interface.js';
import { waitFor } from '../helpers/wait.js';
import { FakeRuntime } from './fake-runtime.js';

/** A port nothing listens on right now (taken from the kernel, then let go). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function listen(t: Test, port: number): Promise<void> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
}

async function setup(t: Test, ports: number[], listenWaitMs: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-listen-'));
  const db = await TaskDb.open(path.join(dir, 'tasks.db'));
  t.teardown(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const fake = new FakeRuntime();
  // This process stands in for the task: its /proc/PID/net shows the sockets the test opens.
  const create = fake.create.bind(fake);
  fake.create = async (spec) => {
    const info = await create(spec);
    (fake.boxes.get(spec.taskId) as { pid: number }).pid = process.pid;
    return { ...info, pid: process.pid };
  };
  const rt = new Proxy(fake, { get: (o, k) => (k === 'name' ? 'oci' : Reflect.get(o, k)) }) as unknown as Runtime;
  const networks = new TaskNetworks({ apply: async () => {}, teardown: async () => {} }, silentLogger);
  t.teardown(() => networks.close());
  const plan: NodePlan = {
    nodeId: 'n',
    underlayAddr: '10.0.0.1',
    networks: [{ id: 'net1', name: 'app', vni: 4096, subnet: '10.0.1.0/24', gateway: '10.0.1.1', nodeAddr: '10.0.1.2', internal: false, ingress: false }],
    tasks: [{ taskId: 'task1', netns: 'shoal-task1', serviceName: 'web', attachments: [{ networkId: 'net1', addr: '10.0.1.3', mac: '02:42:0a:00:01:03', aliases: [] }] }],
    remotes: [],
    services: [
      {
        id: 's',
        name: 'web',
        endpointMode: 'vip',
        vips: [],
        ports: ports.map((p, i) => ({ protocol: 'tcp' as const, targetPort: p, publishedPort: 8080 + i, mode: 'ingress' as const })),
        backends: [],
        preferLocal: false,
        aliases: [],
      },
    ],
  };
  networks.onPlan(plan);
  const task = {
    ID: 'task1',
    ServiceID: 's',
    Slot: 1,
    NodeID: 'n',
    DesiredState: 'running',
    Spec: { ContainerSpec: { Image: 'busybox', Args: ['httpd'] } },
    NetworksAttachments: [{ Network: { ID: 'net1' }, Addresses: ['10.0.1.3/24'] }],
    Status: { Timestamp: new Date(0).toISOString(), State: 'assigned', Message: '' },
  } as unknown as Task;
  const reports: TaskStatus[] = [];
  const c = new TaskController(
    { runtime: rt, db, report: (_id, st) => reports.push(st), log: silentLogger, alive: () => true, wall: Date.now, timers: systemTimers, networks, listenWaitMs },
    { id: task.ID, task, runtime: 'oci', state: 'assigned', created: false, updatedMs: 0 },
  );
  return { c, reports, last: () => reports[reports.length - 1] };
}

t.test("listeningPorts reads a namespace's LISTEN sockets from /proc", async (t) => {
  const port = await freePort();
  t.notOk(listeningPorts(process.pid).has(port), 'not before it listens');
  await listen(t, port);
  t.ok(listeningPorts(process.pid).has(port), `port ${port} once it listens`);
  t.same(listeningPorts(2 ** 22 + 1), new Set(), 'a process that does not exist listens on nothing');
});

t.test('a task that publishes a port is starting until it listens on it, then running', async (t) => {
  const port = await freePort();
  const { c, reports, last } = await setup(t, [port], 30_000);
  c.kick();
  await waitFor(() => last()?.State === 'starting', { what: 'the task started' });
  await new Promise((r) => setTimeout(r, 300)); // a while with nothing listening: it must stay starting
  t.equal(last()!.State, 'starting', 'still starting while nothing listens on the published port');
  t.notOk(reports.some((r) => r.State === 'running'), 'never reported running before it listens');
  await listen(t, port);
  await waitFor(() => last()?.State === 'running', { timeoutMs: 5_000, what: 'running once it listens' });
  t.equal(last()!.Message, `started (listening on ${port})`);
});

t.test('a task that never listens is reported running after the wait, saying so', async (t) => {
  const port = await freePort();
  const { c, last } = await setup(t, [port], 400);
  const t0 = Date.now();
  c.kick();
  await waitFor(() => last()?.State === 'running', { timeoutMs: 10_000, what: 'running after the wait' });
  t.ok(Date.now() - t0 >= 400, `not before the wait (${Date.now() - t0} ms)`);
  t.equal(last()!.Message, `started (not listening on ${port} after 0 s)`);
});

t.test('a task stopped while it waits is never reported running', async (t) => {
  const port = await freePort();
  const { c, reports, last } = await setup(t, [port], 30_000);
  c.kick();
  await waitFor(() => last()?.State === 'starting', { what: 'the task started' });
  c.update({ ...c.task, DesiredState: 'shutdown' });
  await waitFor(() => last()?.State === 'shutdown', { timeoutMs: 5_000, what: 'shut down' });
  await listen(t, port);
  await new Promise((r) => setTimeout(r, 200));
  t.notOk(reports.some((r) => r.State === 'running'), 'no running report after the stop');
});
