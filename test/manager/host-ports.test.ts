/**
 * Host ports of process-runtime tasks, allocated in the store's apply when a
 * task is placed: one per distinct target port of its service, lowest free of
 * 20000-29999 on its node, recorded in Status.PortStatus (PublishMode host),
 * kept over status reports and write-backs, free again once the task ended,
 * and the same on every replay (a seeded property test on two stores, with a
 * snapshot and restore midway, checks no node ever has a port twice).
 */
import { StoreDriver, T } from './store-driver.js';
import t from 'tap';
import { Store } from '../../src/manager/store/store.js';
import type { StoreOp } from '../../src/manager/store/commands.js';
import { HOST_PORT_FIRST } from '../../src/manager/store/task-host-ports.js';
import { isTerminal, type EndpointPortConfig, type Task, type TaskState } from '../../src/model/index.js';
import { seededRng } from '../../src/util/rng.js';

class S extends StoreDriver {
  ports(id: string): string[] {
    return (this.store.get('task', id)!.Status.PortStatus?.Ports ?? []).map((p) => `${p.TargetPort}/${p.Protocol}=${p.PublishedPort}:${p.PublishMode}`);
  }
}

const cluster = { op: 'create' as const, kind: 'cluster' as const, object: { ID: 'c1', Spec: { Name: 'default' }, JoinTokens: { Worker: 'w', Manager: 'm' }, RootRotationInProgress: false } as never };
const node = (id: string, runtimes: string[]): StoreOp => ({
  op: 'create',
  kind: 'node',
  object: { ID: id, Spec: { Role: 'worker', Availability: 'active' }, Description: { Hostname: id, Platform: { Architecture: 'x86_64', OS: 'linux' }, Resources: {}, Engine: {}, Runtimes: runtimes }, Status: { State: 'ready', Addr: '192.168.9.1' } } as never,
});
const svc = (id: string, ports: EndpointPortConfig[] | undefined, runtime?: string): StoreOp => ({
  op: 'create',
  kind: 'service',
  object: { ID: id, Spec: { Name: id, TaskTemplate: { ContainerSpec: { Image: 'x' }, ...(runtime ? { Runtime: runtime } : {}) }, Mode: { Replicated: { Replicas: 1 } }, EndpointSpec: { Mode: 'vip', ...(ports ? { Ports: ports } : {}) } } } as never,
});
const task = (id: string, serviceId: string, nodeId = '', runtime?: string): StoreOp => ({
  op: 'create',
  kind: 'task',
  object: { ID: id, ServiceID: serviceId, Slot: 1, NodeID: nodeId, Spec: runtime ? { Runtime: runtime } : {}, DesiredState: 'running', Status: { Timestamp: T, State: nodeId ? 'assigned' : 'pending', Message: '' } } as never,
});
const status = (id: string, state: TaskState, extra: object = {}): StoreOp => ({ op: 'patchTask', id, status: { Timestamp: T, State: state, Message: '', ...extra } });
const place = (id: string, nodeId: string): StoreOp => ({ op: 'patchTask', id, nodeId, status: { Timestamp: T, State: 'assigned', Message: '' } });

t.test('placed process tasks get distinct host ports per node; other tasks none', async (t) => {
  const s = new S();
  s.must(cluster, node('P', ['process', 'oci']), node('Q', ['process']), node('O', ['oci', 'process']));
  s.must(svc('web', [{ TargetPort: 80 }, { TargetPort: 53, Protocol: 'udp', PublishMode: 'host' }, { TargetPort: 53, Protocol: 'tcp', PublishMode: 'host' }]), svc('quiet', undefined));
  s.must(task('w1', 'web'), task('w2', 'web'), task('w3', 'web'), task('w4', 'web'), task('q1', 'quiet'));
  t.same(s.ports('w1'), [], 'not placed: nothing yet');
  s.must(place('w1', 'P'));
  t.same(s.ports('w1'), ['80/tcp=20000:host', '53/udp=20001:host', '53/tcp=20001:host'], 'one host port per target port, shared by its protocols');
  s.must(place('w2', 'P'), place('w3', 'Q'), place('w4', 'O'), place('q1', 'P'));
  t.same(s.ports('w2'), ['80/tcp=20002:host', '53/udp=20003:host', '53/tcp=20003:host'], 'a second task on P: the next free ones');
  t.same(s.ports('w3'), ['80/tcp=20000:host', '53/udp=20001:host', '53/tcp=20001:host'], 'another node has its own range');
  t.same(s.ports('w4'), [], "O's default runtime is oci: the task has its own namespace");
  t.same(s.ports('q1'), [], 'a service without ports: no host port');
  s.must(task('w5', 'web', 'O', 'process'));
  t.same(s.ports('w5'), ['80/tcp=20000:host', '53/udp=20001:host', '53/tcp=20001:host'], "a task's own Runtime wins over its node's default; created placed");
  const published = s.store.get('service', 'web')!.Endpoint!.Ports!.find((p) => p.TargetPort === 80)!.PublishedPort!;
  t.ok(published >= 30000, 'the ingress port keeps its own (mesh) number');

  // An agent's status report carries no PortStatus (or another one): the store's stays.
  s.must(status('w1', 'running'));
  t.same(s.ports('w1'), ['80/tcp=20000:host', '53/udp=20001:host', '53/tcp=20001:host'], 'kept over a status report');
  s.must(status('w1', 'running', { PortStatus: { Ports: [{ TargetPort: 80, Protocol: 'tcp', PublishedPort: 25000, PublishMode: 'host' }] } }));
  t.same(s.ports('w1'), ['80/tcp=20000:host', '53/udp=20001:host', '53/tcp=20001:host'], 'a writer cannot move them');
  const cur = s.store.get('task', 'w1')!;
  s.must({ op: 'update', kind: 'task', object: { ...cur, Status: { ...cur.Status, PortStatus: undefined } } as Task });
  t.same(s.ports('w1'), ['80/tcp=20000:host', '53/udp=20001:host', '53/tcp=20001:host'], 'nor drop them by writing the task back');

  // Ended: still shown (as Docker does), free again for the next task on P.
  s.must(status('w1', 'failed'));
  t.same(s.ports('w1'), ['80/tcp=20000:host', '53/udp=20001:host', '53/tcp=20001:host'], 'an ended task keeps showing its ports');
  s.must(task('w6', 'web'), place('w6', 'P'));
  t.same(s.ports('w6'), ['80/tcp=20000:host', '53/udp=20001:host', '53/tcp=20001:host'], 'released on end: the lowest free again');
  s.must(task('w7', 'web', 'P'));
  t.same(s.ports('w7'), ['80/tcp=20004:host', '53/udp=20005:host', '53/tcp=20005:host'], 'w2 and w6 still hold theirs');
});

t.test('explicit host-mode ports are the task’s own; published ports are skipped', async (t) => {
  const s = new S();
  s.must(cluster, node('P', ['process']));
  s.must(svc('pinned', [{ TargetPort: 80, PublishedPort: 8081, PublishMode: 'host' }]), svc('taker', [{ TargetPort: 9, PublishedPort: HOST_PORT_FIRST }]));
  s.must(task('p1', 'pinned', 'P'));
  t.same(s.ports('p1'), ['80/tcp=8081:host'], 'a host-mode PublishedPort is where the process listens (the scheduler keeps it one per node)');
  s.must(svc('web', [{ TargetPort: 80 }]), task('w1', 'web', 'P'));
  t.same(s.ports('w1'), [`80/tcp=${HOST_PORT_FIRST + 1}:host`], 'a port the mesh publishes on every node is never a host port');
});

t.test('an ingress port a process task listens on is refused, naming the field', async (t) => {
  const s = new S();
  s.must(cluster, node('P', ['process']));
  s.must(svc('web', [{ TargetPort: 80 }]), task('w1', 'web', 'P'));
  t.same(s.ports('w1'), ['80/tcp=20000:host']);
  const r = s.run(svc('mesh', [{ TargetPort: 81 }, { TargetPort: 80, PublishedPort: 20000 }]));
  t.notOk(r.ok);
  if (!r.ok) {
    t.equal(r.field, 'Spec.EndpointSpec.Ports[1].PublishedPort');
    t.match(r.message, /port 20000 is a host port of a task on node P/);
  }
  s.must(svc('pinned', [{ TargetPort: 80, PublishedPort: 20001, PublishMode: 'host' }]));
  t.pass('host mode is per node: not refused');
  s.must(status('w1', 'complete'));
  s.must(svc('mesh', [{ TargetPort: 80, PublishedPort: 20000 }]));
  t.pass('free once the task ended');
});

t.test('a node out of host ports rejects the task, not the transaction', async (t) => {
  const s = new S();
  s.must(cluster, node('P', ['process']));
  s.must(svc('wide', Array.from({ length: 10000 }, (_, i) => ({ TargetPort: i + 1, PublishMode: 'host' as const }))), svc('web', [{ TargetPort: 80 }]));
  s.must(task('a', 'wide', 'P'));
  t.equal(s.store.get('task', 'a')!.Status.PortStatus!.Ports!.length, 10000);
  s.must(task('b', 'web', 'P'), task('c', 'web'));
  const b = s.store.get('task', 'b')!;
  t.equal(b.Status.State, 'rejected');
  t.match(b.Status.Err, /no free host port left in 20000-29999 on node P/);
  t.ok(s.store.get('task', 'c'), 'the rest of the transaction committed');
  s.must(status('a', 'complete'));
  s.must(place('c', 'P'));
  t.same(s.ports('c'), ['80/tcp=20000:host'], 'free again once the wide task completed');
});

t.test('property: no node ever has one host port twice among live tasks; replay is identical (snapshot+restore midway)', async (t) => {
  const seeds = Number(process.env.SEEDS ?? 40);
  let allocated = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const rng = seededRng(seed);
    const a = new S();
    const b = new S();
    const both = (...ops: StoreOp[]) => {
      const ra = a.run(...ops);
      const rb = b.run(...ops);
      if (ra.ok !== rb.ok) throw new Error(`seed ${seed}: verdicts differ`);
    };
    both(cluster, node('n1', ['process']), node('n2', ['process', 'oci']), node('n3', ['oci']));
    both(svc('s1', [{ TargetPort: 80 }, { TargetPort: 81, Protocol: 'udp' }]), svc('s2', [{ TargetPort: 80 }]), svc('s3', [{ TargetPort: 7 }], 'process'));
    const steps = 200;
    for (let n = 0; n < steps; n++) {
      const tasks = a.store.list('task');
      const r = rng.range(0, 100);
      if (r < 35 || tasks.length === 0) both(task(`t${n}`, rng.pick(['s1', 's2', 's3']), rng.chance(0.5) ? rng.pick(['n1', 'n2', 'n3']) : ''));
      else if (r < 55) both(place(rng.pick(tasks).ID, rng.pick(['n1', 'n2', 'n3'])));
      else if (r < 90) both(status(rng.pick(tasks).ID, rng.pick(['running', 'running', 'failed', 'complete', 'shutdown'] as TaskState[])));
      else both({ op: 'delete', kind: 'task', id: rng.pick(tasks).ID });
      const seen = new Map<string, string>();
      for (const tk of a.store.list('task')) {
        if (isTerminal(tk.Status.State)) continue;
        for (const port of new Set((tk.Status.PortStatus?.Ports ?? []).map((p) => p.PublishedPort))) {
          const k = `${tk.NodeID}:${port}`;
          if (seen.has(k)) {
            t.fail(`seed ${seed} step ${n}: ${k} held by ${seen.get(k)} and ${tk.ID}`);
            return;
          }
          seen.set(k, tk.ID);
          allocated++;
        }
      }
      if (n === steps / 2) {
        const snap = await a.store.snapshot();
        b.store = new Store();
        b.store.restore(snap);
      }
    }
    const dump = (s: Store) => JSON.stringify(s.list('task').sort((x, y) => (x.ID < y.ID ? -1 : 1)));
    if (dump(a.store) !== dump(b.store)) {
      t.fail(`seed ${seed}: the two stores differ`);
      return;
    }
  }
  t.ok(allocated > seeds * 50, `the sequences held host ports (${allocated} port-steps)`);
});
