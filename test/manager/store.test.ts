import t from 'tap';
import { Store } from '../../src/manager/store/store.js';
import { encodeTxn, type StoreOp, type TxnResult } from '../../src/manager/store/commands.js';
import type { Service, Task } from '../../src/model/index.js';

let index = 0;
const T = '2026-11-21T00:00:00Z';
function run(s: Store, ...ops: StoreOp[]): TxnResult {
  return s.apply({ index: ++index, term: 1, command: encodeTxn({ time: T, ops }) });
}
const svc = (id: string, name: string, replicas = 1): Omit<Service, 'Version' | 'CreatedAt' | 'UpdatedAt'> => ({
  ID: id,
  Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: replicas } } },
});
const task = (id: string, serviceId: string, slot: number, nodeId = ''): Omit<Task, 'Version' | 'CreatedAt' | 'UpdatedAt'> => ({
  ID: id,
  ServiceID: serviceId,
  Slot: slot,
  NodeID: nodeId,
  Spec: {},
  DesiredState: 'running',
  Status: { Timestamp: T, State: 'new', Message: 'created' },
});

t.test('create, update with version, delete; versions are Raft indexes', async (t) => {
  const s = new Store();
  const r = run(s, { op: 'create', kind: 'service', object: svc('s1', 'web') });
  t.ok(r.ok);
  const v1 = s.get('service', 's1')!.Version.Index;
  t.equal(v1, index, 'Version.Index is the Raft index of the change');
  const conflict = run(s, { op: 'update', kind: 'service', object: { ...svc('s1', 'web', 3) }, expect: v1 - 1 });
  t.match(conflict, { ok: false, code: 'VERSION_CONFLICT', field: 'version' });
  t.equal(s.get('service', 's1')!.Spec.Mode.Replicated?.Replicas, 1, 'a conflicting update changes nothing');
  t.ok(run(s, { op: 'update', kind: 'service', object: svc('s1', 'web', 3), expect: v1 }).ok);
  t.equal(s.get('service', 's1')!.Spec.Mode.Replicated?.Replicas, 3);
  t.equal(s.get('service', 's1')!.CreatedAt, T);
  t.match(run(s, { op: 'delete', kind: 'service', id: 'nope' }), { ok: false, code: 'NOT_FOUND' });
  t.ok(run(s, { op: 'delete', kind: 'service', id: 's1' }).ok);
  t.equal(s.get('service', 's1'), undefined);
});

t.test('names are unique per kind; find by id, name or prefix', async (t) => {
  const s = new Store();
  run(s, { op: 'create', kind: 'service', object: svc('abc123', 'web') });
  t.match(run(s, { op: 'create', kind: 'service', object: svc('def456', 'web') }), { ok: false, code: 'NAME_CONFLICT', field: 'Spec.Name' });
  t.ok(run(s, { op: 'create', kind: 'service', object: svc('abd999', 'api') }).ok);
  t.equal(s.find('service', 'web')?.ID, 'abc123');
  t.equal(s.find('service', 'abc')?.ID, 'abc123', 'unique prefix');
  t.equal(s.find('service', 'ab'), undefined, 'ambiguous prefix finds nothing');
  // Rename frees the old name within the same transaction.
  t.ok(run(s, { op: 'update', kind: 'service', object: svc('abc123', 'web2') }, { op: 'create', kind: 'service', object: svc('new1', 'web') }).ok);
  t.equal(s.find('service', 'web')?.ID, 'new1');
});

t.test('transactions are all or nothing', async (t) => {
  const s = new Store();
  const r = run(s, { op: 'create', kind: 'service', object: svc('a', 'a') }, { op: 'update', kind: 'service', object: svc('missing', 'x') });
  t.match(r, { ok: false, code: 'NOT_FOUND' });
  t.equal(s.count('service'), 0, 'the create in the failed transaction did not land');
  t.match(run(s, { op: 'create', kind: 'service', object: { ID: '' } as never }), { ok: false, code: 'INVALID' });
  const bad = s.apply({ index: ++index, term: 1, command: Buffer.from('garbage') });
  t.match(bad, { ok: false, code: 'INVALID' }, 'an undecodable command is rejected, not thrown');
});

t.test('task status only moves forward; indexes by service and node', async (t) => {
  const s = new Store();
  run(s, { op: 'create', kind: 'task', object: task('t1', 's1', 1) });
  run(s, { op: 'patchTask', id: 't1', nodeId: 'n1', status: { Timestamp: T, State: 'assigned', Message: 'assigned' } });
  t.same(s.tasksOnNode('n1').map((x) => x.ID), ['t1']);
  run(s, { op: 'patchTask', id: 't1', status: { Timestamp: T, State: 'running', Message: 'started' } });
  run(s, { op: 'patchTask', id: 't1', status: { Timestamp: T, State: 'starting', Message: 'late report' } });
  t.equal(s.get('task', 't1')!.Status.State, 'running', 'a late report of an earlier state is skipped');
  run(s, { op: 'patchTask', id: 't1', nodeId: 'n2' });
  t.equal(s.get('task', 't1')!.NodeID, 'n1', 'an assigned task is never moved to another node');
  run(s, { op: 'patchTask', id: 't1', desiredState: 'shutdown' });
  run(s, { op: 'patchTask', id: 't1', desiredState: 'running' });
  t.equal(s.get('task', 't1')!.DesiredState, 'shutdown', 'desired state only moves forward too');
  t.ok(run(s, { op: 'patchTask', id: 'gone', status: { Timestamp: T, State: 'running', Message: '' } }).ok, 'a report about a reaped task is harmless');
  t.same(s.tasksOfService('s1').map((x) => x.ID), ['t1']);
  run(s, { op: 'delete', kind: 'task', id: 't1' });
  t.same(s.tasksOfService('s1'), []);
  t.same(s.tasksOnNode('n1'), []);
});

t.test('kv: put, append, compare-and-set', async (t) => {
  const s = new Store();
  t.match(run(s, { op: 'kvPut', key: 'k', value: 'a' }), { ok: true, kv: ['a'] });
  t.match(run(s, { op: 'kvAppend', key: 'k', value: 'b' }), { ok: true, kv: ['ab'] });
  t.match(run(s, { op: 'kvCas', key: 'k', from: 'x', to: 'y' }), { ok: false, code: 'CAS_MISMATCH' });
  t.match(run(s, { op: 'kvCas', key: 'k', from: 'ab', to: 'c' }), { ok: true });
  t.equal(s.kvGet('k'), 'c');
  t.match(run(s, { op: 'kvCas', key: 'fresh', from: null, to: '1' }), { ok: true });
});

t.test('watch events and snapshot round trip', async (t) => {
  const s = new Store();
  const seen: string[] = [];
  s.watch((changes) => changes.forEach((c) => seen.push(`${c.action} ${c.kind} ${c.id}`)));
  run(s, { op: 'create', kind: 'service', object: svc('s1', 'web') }, { op: 'create', kind: 'task', object: task('t1', 's1', 1, 'n1') });
  run(s, { op: 'delete', kind: 'task', id: 't1' });
  t.same(seen, ['create service s1', 'create task t1', 'delete task t1']);
  run(s, { op: 'create', kind: 'task', object: task('t2', 's1', 2, 'n1') }, { op: 'kvPut', key: 'x', value: 'y' });
  const copy = new Store();
  copy.restore(await s.snapshot());
  t.same(copy.list('service'), s.list('service'));
  t.same(copy.tasksOnNode('n1').map((x) => x.ID), ['t2'], 'indexes rebuilt');
  t.equal(copy.find('service', 'web')?.ID, 's1', 'names rebuilt');
  t.equal(copy.kvGet('x'), 'y');
  t.equal(copy.index, s.index);
});

t.test('orchestrator ops: task bookkeeping merge, version-guarded service patch, tolerant delete', async (t) => {
  const s = new Store();
  run(s, { op: 'create', kind: 'service', object: svc('s1', 'web') }, { op: 'create', kind: 'task', object: task('t1', 's1', 1) });
  run(s, { op: 'patchTask', id: 't1', orchestration: { Reason: 'restart', CreatedMs: 5, Restarts: 1 } });
  run(s, { op: 'patchTask', id: 't1', orchestration: { ExitedMs: 9 } });
  t.same(s.get('task', 't1')!.Orchestration, { Reason: 'restart', CreatedMs: 5, Restarts: 1, ExitedMs: 9 }, 'merged field by field');
  const v = s.get('service', 's1')!.Version.Index;
  run(s, { op: 'patchService', id: 's1', ifVersion: v - 1, updateStatus: { State: 'paused' } });
  t.equal(s.get('service', 's1')!.UpdateStatus, undefined, 'a patch made from a stale view is skipped');
  const r = run(s, { op: 'patchService', id: 's1', ifVersion: v, updateStatus: { State: 'completed' } });
  t.ok(r.ok);
  t.equal(s.get('service', 's1')!.UpdateStatus?.State, 'completed');
  t.ok(run(s, { op: 'delete', kind: 'task', id: 'gone', ifExists: true }).ok, 'ifExists tolerates a missing object');
});
