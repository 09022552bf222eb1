/**
 * Every filter through the Scheduler: readiness, availability, resources,
 * constraints, MaxReplicas, host ports, platform, runtime, pinned tasks.
 * Each rejection shows up in the reason of the task left unplaced.
 */
import t from 'tap';
import { Scheduler } from '../../src/scheduler/index.js';
import { histogram, node, task, tasks } from './fixtures.js';

const sched = (): Scheduler => new Scheduler({ checkInvariants: true });

t.test('only ready, active nodes take tasks', async (t) => {
  const s = sched();
  s.upsertNode(node('up'));
  s.upsertNode(node('down', { state: 'down' }));
  s.upsertNode(node('disc', { state: 'disconnected' }));
  s.upsertNode(node('unk', { state: 'unknown' }));
  s.upsertNode(node('drained', { availability: 'drain' }));
  s.upsertNode(node('paused', { availability: 'pause' }));
  const r = s.schedule(tasks(4));
  t.same(histogram(r.placed), { up: 4 });
  s.upsertNode(node('up', { availability: 'drain' }));
  const r2 = s.schedule([task('x')]);
  t.equal(r2.placed.length, 0);
  t.equal(
    r2.unplaced[0]!.reason,
    'no suitable node (node drained on 2 nodes; node disconnected on 1 node; node down on 1 node; node state unknown on 1 node; node paused on 1 node)',
  );
});

t.test('resources: reservations against capacity minus what is counted', async (t) => {
  const s = sched();
  s.upsertNode(node('a', { cpus: 2, memGiB: 1 }));
  s.upsertNode(node('b', { cpus: 1, memGiB: 4 }));
  // 1.5 CPUs only fits a; 2 GiB only fits b.
  const r = s.schedule([task('cpu', { service: 'c', cpu: 1.5 }), task('mem', { service: 'm', memMiB: 2048 })]);
  t.same(r.placed, [{ taskId: 'cpu', nodeId: 'a' }, { taskId: 'mem', nodeId: 'b' }]);
  t.same(s.usage('a'), { nanoCPUs: 1.5e9, memoryBytes: 0, tasks: 1 });
  // a has 0.5 CPU left, b has 2 GiB and 1 CPU left.
  const r2 = s.schedule([task('big', { service: 'c2', cpu: 1, memMiB: 2049 })]);
  t.same(r2.unplaced, [{ taskId: 'big', code: 'NO_SUITABLE_NODE', reason: 'no suitable node (insufficient cpu on 1 node; insufficient memory on 1 node)' }]);
  // An exact fit is a fit.
  const r3 = s.schedule([task('exact', { service: 'c3', cpu: 1, memMiB: 2048 })]);
  t.same(r3.placed, [{ taskId: 'exact', nodeId: 'b' }]);
  // Tasks reserving nothing always fit.
  t.equal(s.schedule(tasks(5, {}, 'free')).placed.length, 5);
});

t.test('resources: tasks placed earlier in the same batch count', async (t) => {
  const s = sched();
  s.upsertNode(node('a', { cpus: 4 }));
  const r = s.schedule([...tasks(3, { service: 'x', cpu: 1 }, 'x'), ...tasks(3, { service: 'y', cpu: 1 }, 'y')]);
  t.equal(r.placed.length, 4);
  t.same(r.unplaced.map((u) => u.taskId), ['y1', 'y2']);
  t.equal(r.unplaced[0]!.reason, 'no suitable node (insufficient cpu on 1 node)');
});

t.test('constraints: all must hold; the first one failing is reported', async (t) => {
  const s = sched();
  s.upsertNode(node('a', { labels: { zone: 'a', disk: 'ssd' } }));
  s.upsertNode(node('b', { labels: { zone: 'b', disk: 'ssd' } }));
  s.upsertNode(node('c', { labels: { zone: 'a', disk: 'hdd' } }));
  s.upsertNode(node('m', { role: 'manager' }));
  const r = s.schedule(tasks(4, { constraints: ['node.labels.zone==a', 'node.labels.disk==ssd'] }));
  t.same(histogram(r.placed), { a: 4 });
  const r2 = s.schedule(tasks(1, { service: 'z', constraints: ['node.labels.zone==c', 'node.role==worker'] }, 'z'));
  t.equal(r2.unplaced[0]!.reason, 'no suitable node (constraint node.labels.zone==c not met on 4 nodes)');
  const r3 = s.schedule(tasks(1, { service: 'w', constraints: ['node.role!=worker', 'node.labels.zone==a'] }, 'w'));
  t.equal(r3.unplaced[0]!.reason, 'no suitable node (constraint node.role!=worker not met on 3 nodes; constraint node.labels.zone==a not met on 1 node)');
  const r4 = s.schedule(tasks(2, { service: 'h', constraints: ['node.hostname == host-b'] }, 'h'));
  t.same(histogram(r4.placed), { b: 2 });
});

t.test('an unparsable constraint or descriptor makes the task unplaceable, never throws', async (t) => {
  const s = sched();
  s.upsertNode(node('a'));
  const r = s.schedule([
    task('bad', { service: 'b', constraints: ['zone=a'] }),
    task('bad2', { service: 'b2', constraints: ['node.flavour==x'] }),
    task('pref', { service: 'p', spread: ['zone'] }),
    task('ok', { service: 'o' }),
  ]);
  t.same(r.placed, [{ taskId: 'ok', nodeId: 'a' }]);
  t.same(r.unplaced.map((u) => [u.taskId, u.code]), [['bad', 'INVALID_SPEC'], ['bad2', 'INVALID_SPEC'], ['pref', 'INVALID_SPEC']]);
  t.equal(r.unplaced[0]!.reason, 'invalid constraint "zone=a": expected <key>==<value> or <key>!=<value>');
  t.match(r.unplaced[1]!.reason, /unknown key "node.flavour"/);
  t.match(r.unplaced[2]!.reason, /invalid spread descriptor "zone"/);
  t.equal(s.metrics.tasksInvalid, 3);
});

t.test('MaxReplicas: at most N non-terminal tasks of the service per node', async (t) => {
  const s = sched();
  for (const id of ['a', 'b']) s.upsertNode(node(id));
  // One already runs on a; a terminal one on b does not count.
  s.taskAssigned(task('old', { nodeId: 'a', maxReplicas: 2 }));
  s.taskAssigned(task('dead', { nodeId: 'b', maxReplicas: 2, state: 'failed' }));
  const r = s.schedule(tasks(4, { maxReplicas: 2, cpu: 0.1 }));
  t.same(histogram(r.placed), { a: 1, b: 2 });
  t.equal(r.unplaced[0]!.reason, 'no suitable node (max replicas per node (2) reached on 2 nodes)');
  // Other services are not limited by it.
  t.equal(s.schedule(tasks(6, { service: 'other' }, 'o')).placed.length, 6);
  // A finished task frees its slot.
  s.taskRemoved({ ID: 'old' });
  t.same(s.schedule([task('t2', { maxReplicas: 2, cpu: 0.1 })]).placed, [{ taskId: 't2', nodeId: 'a' }]);
});

t.test('host ports: one task per published port and protocol per node', async (t) => {
  const s = sched();
  for (const id of ['a', 'b', 'c']) s.upsertNode(node(id));
  const hints = new Map([
    ['web', { hostPorts: [{ port: 80, protocol: 'tcp' as const }] }],
    ['dns', { hostPorts: [{ port: 53, protocol: 'udp' as const }, { port: 53, protocol: 'tcp' as const }] }],
    ['web2', { hostPorts: [{ port: 80, protocol: 'tcp' as const }] }],
    ['udp80', { hostPorts: [{ port: 80, protocol: 'udp' as const }] }],
  ]);
  const r = s.schedule(tasks(4, { service: 'web' }, 'w'), hints);
  t.same(histogram(r.placed), { a: 1, b: 1, c: 1 });
  t.equal(r.unplaced[0]!.reason, 'no suitable node (host port 80/tcp in use on 3 nodes)');
  // Another service wanting the same port is refused too; another protocol is not.
  t.equal(s.schedule([task('v2', { service: 'web2' })], hints).unplaced.length, 1);
  t.equal(s.schedule([task('u', { service: 'udp80' })], hints).placed.length, 1);
  t.equal(s.schedule(tasks(3, { service: 'dns' }, 'd'), hints).placed.length, 3);
  // Releasing a task frees its port.
  s.taskRemoved({ ID: r.placed[1]!.taskId });
  t.same(s.schedule([task('w9', { service: 'web2' })], hints).placed, [{ taskId: 'w9', nodeId: r.placed[1]!.nodeId }]);
});

t.test('host ports of assigned tasks: from hints, else from PortStatus', async (t) => {
  const s = sched();
  s.upsertNode(node('a'));
  const running = task('r', { service: 'web', nodeId: 'a' });
  running.Status.PortStatus = { Ports: [{ TargetPort: 80, PublishedPort: 8080, PublishMode: 'host', Protocol: 'tcp' }, { TargetPort: 81, PublishedPort: 30001, PublishMode: 'ingress' }] };
  s.taskAssigned(running);
  const hints = new Map([
    ['x', { hostPorts: [{ port: 8080, protocol: 'tcp' as const }] }],
    ['y', { hostPorts: [{ port: 30001, protocol: 'tcp' as const }] }],
  ]);
  t.equal(s.schedule([task('x1', { service: 'x' })], hints).unplaced.length, 1, 'host port from PortStatus is held');
  t.equal(s.schedule([task('y1', { service: 'y' })], hints).placed.length, 1, 'ingress ports are not held on the node');
  // Counted while assigned (no PortStatus yet), then reported running with its port.
  const late = task('late', { service: 'l', nodeId: 'a', state: 'assigned' });
  const before = s.usage('a')!.tasks;
  s.taskAssigned(late);
  s.taskAssigned({ ...late, Status: { ...late.Status, State: 'running', PortStatus: { Ports: [{ TargetPort: 1, PublishedPort: 7000, PublishMode: 'host' }] } } });
  t.equal(s.usage('a')!.tasks, before + 1, 'counted once');
  const h7 = new Map([['q', { hostPorts: [{ port: 7000, protocol: 'tcp' as const }] }]]);
  t.equal(s.schedule([task('q1', { service: 'q' })], h7).unplaced.length, 1, 'a port learnt after the task was counted is held');
  s.taskAssigned(task('h', { service: 'z', nodeId: 'a' }), { hostPorts: [{ port: 9000, protocol: 'tcp' }] });
  t.equal(s.schedule([task('z1', { service: 'x2' })], new Map([['x2', { hostPorts: [{ port: 9000, protocol: 'tcp' as const }] }]])).unplaced.length, 1);
});

t.test('platform: Placement.Platforms must include the node OS/arch (aliases normalised, empty fields match any)', async (t) => {
  const s = sched();
  s.upsertNode(node('x86', { platform: { OS: 'linux', Architecture: 'x86_64' } }));
  s.upsertNode(node('arm', { platform: { OS: 'linux', Architecture: 'aarch64' } }));
  s.upsertNode(node('win', { platform: { OS: 'windows', Architecture: 'amd64' } }));
  const on = (platforms: { OS: string; Architecture: string }[], svc: string): Record<string, number> =>
    histogram(s.schedule(tasks(3, { service: svc, platforms }, svc)).placed);
  t.same(on([{ OS: 'linux', Architecture: 'amd64' }], 'p1'), { x86: 3 });
  t.same(on([{ OS: 'linux', Architecture: 'arm64' }], 'p2'), { arm: 3 });
  t.same(Object.keys(on([{ OS: 'linux', Architecture: '' }], 'p3')).sort(), ['arm', 'x86']);
  const p4 = on([{ OS: '', Architecture: 'x64' }], 'p4');
  t.same(Object.keys(p4).sort(), ['win', 'x86']);
  const r = s.schedule([task('mips', { service: 'p5', platforms: [{ OS: 'linux', Architecture: 'mips64' }] })]);
  t.equal(r.unplaced[0]!.reason, 'no suitable node (unsupported platform on 3 nodes)');
});

t.test('runtime: a named runtime must be among the node runtimes, when the node lists them', async (t) => {
  const s = sched();
  s.upsertNode(node('proc', { runtimes: ['process'] }));
  s.upsertNode(node('full', { runtimes: ['process', 'oci', 'docker'] }));
  s.upsertNode(node('silent'));
  t.same(Object.keys(histogram(s.schedule(tasks(6, { service: 'd', runtime: 'docker' }, 'd')).placed)).sort(), ['full', 'silent']);
  t.same(Object.keys(histogram(s.schedule(tasks(6, { service: 'p', runtime: 'process' }, 'p')).placed)).sort(), ['full', 'proc', 'silent']);
  t.same(Object.keys(histogram(s.schedule(tasks(6, { service: 'c', runtime: 'container' }, 'c')).placed)).sort(), ['full', 'proc', 'silent'], 'Docker task kinds ask for no runtime');
  s.removeNode('silent');
  s.removeNode('full');
  const r = s.schedule([task('o', { service: 'o', runtime: 'OCI' })]);
  t.equal(r.unplaced[0]!.reason, 'no suitable node (runtime oci not available on 1 node)');
});

t.test('pinned tasks (NodeID set, as for global services) only consider their node', async (t) => {
  const s = sched();
  s.upsertNode(node('a', { cpus: 1 }));
  s.upsertNode(node('b', { cpus: 8 }));
  const pin = (id: string, nodeId: string, cpu = 0): ReturnType<typeof task> => {
    const x = task(id, { service: 'g', cpu, nodeId });
    x.Status.State = 'pending';
    return x;
  };
  const r = s.schedule([pin('g-a', 'a'), pin('g-b', 'b'), pin('g-c', 'c'), pin('g-big', 'a', 2)]);
  t.same(r.placed, [{ taskId: 'g-a', nodeId: 'a' }, { taskId: 'g-b', nodeId: 'b' }]);
  t.same(r.unplaced.map((u) => u.reason), ['no suitable node (node c not found)', 'no suitable node (insufficient cpu on 1 node)']);
  s.upsertNode(node('a', { cpus: 1, state: 'down' }));
  t.equal(s.schedule([pin('g-a2', 'a')]).unplaced[0]!.reason, 'no suitable node (node down on 1 node)');
});
