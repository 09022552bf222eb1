import t from 'tap';
import type { Node, Task } from '../../src/model/index.js';
import { NODE_COLUMNS, nodeRow, prettyNode, sortNodes } from '../../src/cli/format/nodes.js';
import { serviceRow, type ListedService } from '../../src/cli/format/services.js';
import { renderInspect, renderList, renderTable } from '../../src/cli/format/table.js';
import { TASK_COLUMNS, taskRows } from '../../src/cli/format/tasks.js';

const node = (id: string, hostname: string, extra: Partial<Node> = {}): Node =>
  ({
    ID: id,
    Version: { Index: 1 },
    CreatedAt: '2026-01-01T00:00:00Z',
    UpdatedAt: '2026-01-01T00:00:00Z',
    Spec: { Role: 'worker', Availability: 'active', Labels: {} },
    Description: { Hostname: hostname, Platform: { OS: 'linux', Architecture: 'x86_64' }, Resources: { NanoCPUs: 2e9, MemoryBytes: 2 * 1024 ** 3 }, Engine: { EngineVersion: '0.1.0' } },
    Status: { State: 'ready', Addr: '127.0.0.21' },
    ...extra,
  }) as Node;

t.test('tables align as docker tabwriter does (min width 10, padding 3, last column unpadded)', async (t) => {
  t.equal(renderTable(['ID', 'NAME'], [['a', 'web']]), 'ID        NAME\na         web\n');
  t.equal(renderTable(['ID', 'HOSTNAME', 'X'], [['abcdefghijkl', 'h', '']]), 'ID             HOSTNAME   X\nabcdefghijkl   h\n');
});

t.test('node ls: columns, self marked, sorted by hostname, json and -q', async (t) => {
  const mgr = node('m1', 'manager1', { Spec: { Role: 'manager', Availability: 'active' }, ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '127.0.0.11:4242' } });
  const m2 = node('m2', 'manager2', { Spec: { Role: 'manager', Availability: 'drain' }, ManagerStatus: { Reachability: 'unreachable', Addr: 'x' }, Status: { State: 'down', Addr: '' } });
  const nodes = sortNodes([node('w10', 'worker10'), node('w2', 'worker2'), m2, mgr]);
  const rows = nodes.map((n) => nodeRow(n, 'm1'));
  const table = renderList(rows, NODE_COLUMNS, {});
  t.equal(
    table,
    [
      'ID        HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS   ENGINE VERSION   ADDRESS',
      'm1 *      manager1   Ready     Active         Leader           0.1.0            127.0.0.21',
      'm2        manager2   Down      Drain          Unreachable      0.1.0',
      'w2        worker2    Ready     Active                          0.1.0            127.0.0.21',
      'w10       worker10   Ready     Active                          0.1.0            127.0.0.21',
      '',
    ].join('\n'),
  );
  t.equal(renderList(rows, NODE_COLUMNS, { quiet: true }), 'm1\nm2\nw2\nw10\n');
  const json = renderList(rows, NODE_COLUMNS, { format: 'json' }).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.same(json[0], { ID: 'm1', Self: true, Hostname: 'manager1', Status: 'Ready', Availability: 'Active', ManagerStatus: 'Leader', EngineVersion: '0.1.0', Address: '127.0.0.21' });
  t.equal(renderList(rows, NODE_COLUMNS, { format: '{{.ID}} {{.Hostname}}' }), 'm1 manager1\nm2 manager2\nw2 worker2\nw10 worker10\n', 'a Go template per row');
  t.equal(
    renderList(rows.slice(0, 2), NODE_COLUMNS, { format: 'table {{.ID}}\t{{.Status}}\t{{.EngineVersion}}' }),
    'ID        STATUS    ENGINE VERSION\nm1        Ready     0.1.0\nm2        Down      0.1.0\n',
    "`table …`: docker's headers, aligned as its tabwriter does",
  );
  t.equal(renderList(rows.slice(0, 1), NODE_COLUMNS, { format: '{{json .}}' }), `${JSON.stringify(json[0])}\n`);
  t.throws(() => renderList(rows, NODE_COLUMNS, { format: 'yaml' }), /--format "yaml" is not supported: use table, json, or a Go template/);
});

t.test('node inspect --pretty', async (t) => {
  const s = prettyNode(node('w1', 'worker1', { Spec: { Role: 'worker', Availability: 'active', Labels: { zone: 'a' } } }));
  t.match(s, /^ID: +w1\nLabels:\n - zone=a\nHostname: +worker1\n/);
  t.match(s, /\n State: +Ready\n Availability: +Active\n Address: +127\.0\.0\.21\n/);
  t.match(s, /\n CPUs: +2\n Memory: +2GiB\n/);
  t.notMatch(s, /Manager Status/);
  t.match(renderInspect([{ a: 1 }], undefined), /^\[\n {4}\{\n {8}"a": 1\n {4}\}\n\]\n$/, "docker's 4-space JSON array");
});

t.test('service ls rows', async (t) => {
  const s = {
    ID: 'abcdefghijklmnopqrstuvwxy',
    Spec: {
      Name: 'web',
      TaskTemplate: { ContainerSpec: { Image: 'busybox@sha256:0123abcd' } },
      Mode: { Replicated: { Replicas: 3 } },
      EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }] },
    },
    ServiceStatus: { RunningTasks: 2, DesiredTasks: 3, CompletedTasks: 0 },
  } as unknown as ListedService;
  t.same(serviceRow(s), { ID: 'abcdefghijkl', Name: 'web', Mode: 'replicated', Replicas: '2/3', Image: 'busybox', Ports: '*:8080->80/tcp' });
  t.equal(serviceRow(s, true).ID, 'abcdefghijklmnopqrstuvwxy');
  const proc = { ...s, Spec: { ...s.Spec, TaskTemplate: { ContainerSpec: { Image: '', Command: ['sleep'] }, Runtime: 'process' }, Mode: { Global: {} }, EndpointSpec: undefined } } as unknown as ListedService;
  t.same(serviceRow(proc), { ID: 'abcdefghijkl', Name: 'web', Mode: 'global', Replicas: '2/3', Image: '-', Ports: '' });
});

t.test('service ps: history under its slot, states with ages, pending reasons', async (t) => {
  const now = Date.parse('2026-01-01T00:01:00Z');
  const task = (id: string, slot: number, state: Task['Status']['State'], created: string, extra: Partial<Task['Status']> = {}, desired: Task['DesiredState'] = 'running'): Task =>
    ({
      ID: id,
      Name: `web.${slot}`,
      Version: { Index: 1 },
      CreatedAt: created,
      UpdatedAt: created,
      ServiceID: 's',
      Slot: slot,
      NodeID: state === 'pending' ? '' : 'w1',
      DesiredState: desired,
      Spec: { ContainerSpec: { Image: 'busybox' } },
      Status: { State: state, Timestamp: created, Message: '', ...extra },
    }) as Task;
  const tasks = [
    task('old1aaaaaaaaaaaa', 1, 'failed', '2026-01-01T00:00:00Z', { Err: 'exit status 1' }, 'shutdown'),
    task('new1aaaaaaaaaaaa', 1, 'running', '2026-01-01T00:00:55Z'),
    task('p2aaaaaaaaaaaaaa', 2, 'pending', '2026-01-01T00:00:30Z', { Message: 'no suitable node (insufficient memory on 3 nodes)' }),
  ];
  const rows = taskRows(tasks, new Map([['w1', node('w1', 'worker1')]]), { now });
  t.same(
    rows.map((r) => [r.ID, r.Name, r.Node, r.DesiredState, r.CurrentState, r.Error]),
    [
      ['new1aaaaaaaa', 'web.1', 'worker1', 'Running', 'Running 5 seconds ago', ''],
      ['old1aaaaaaaa', ' \\_ web.1', 'worker1', 'Shutdown', 'Failed About a minute ago', '"exit status 1"'],
      ['p2aaaaaaaaaa', 'web.2', '', 'Running', 'Pending 30 seconds ago', '"no suitable node (insufficien…"'],
    ],
  );
  t.equal(taskRows(tasks, new Map(), { now, noTrunc: true })[2]!.Error, '"no suitable node (insufficient memory on 3 nodes)"');
  // A task with a health check shows it, as docker ps shows a container's.
  const checked = (id: string, state: Task['Status']['State'], health: 'starting' | 'healthy' | 'unhealthy') => task(id, 3, state, '2026-01-01T00:00:50Z', { ContainerStatus: { Health: { Status: health, FailingStreak: 0 } } });
  t.same(
    taskRows([checked('h1aaaaaaaaaaaaaa', 'starting', 'starting'), checked('h2aaaaaaaaaaaaaa', 'running', 'healthy'), checked('h3aaaaaaaaaaaaaa', 'failed', 'unhealthy')], new Map(), { now }).map((r) => r.CurrentState).sort(),
    ['Failed 10 seconds ago', 'Running 10 seconds ago (healthy)', 'Starting 10 seconds ago (health: starting)'],
    'health beside the state of a live task',
  );
  t.match(renderList(rows, TASK_COLUMNS, {}), /^ID +NAME +IMAGE +NODE +DESIRED STATE +CURRENT STATE +ERROR +PORTS\n/);
});
