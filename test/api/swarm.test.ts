import t from 'tap';
import { parseToken, roleForToken } from '../../src/manager/membership/tokens.js';
import { startApi } from './helpers.js';

t.test('GET /swarm: the cluster with join tokens, never the root secret', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const c = api.ctx.store.list('cluster')[0]!;
  const r = await api.req('GET', '/v1.47/swarm');
  t.equal(r.status, 200);
  t.match(r.body, {
    ID: c.ID,
    Version: { Index: c.Version.Index },
    CreatedAt: c.CreatedAt,
    UpdatedAt: c.UpdatedAt,
    Spec: { Name: 'default', Raft: { SnapshotInterval: 10000 }, EncryptionConfig: { AutoLockManagers: false } },
    JoinTokens: c.JoinTokens,
    RootRotationInProgress: false,
    DataPathPort: 4789,
  });
  t.notOk('ShoalRootSecret' in r.body);
  t.notMatch(r.text, c.ShoalRootSecret!);
});

t.test('GET /swarm before init: 503', async (t) => {
  const api = await startApi({ init: false });
  t.teardown(api.close);
  const r = await api.req('GET', '/swarm');
  t.equal(r.status, 503);
  t.match(r.body.message, /not part of a swarm/);
});

t.test('POST /swarm/update rotates tokens from the root secret; the old one stops admitting', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const before = (await api.req('GET', '/swarm')).body;
  const r = await api.req('POST', `/swarm/update?version=${before.Version.Index}&rotateWorkerToken=true&rotateManagerToken=false`, before.Spec);
  t.equal(r.status, 200);
  const after = (await api.req('GET', '/swarm')).body;
  t.not(after.JoinTokens.Worker, before.JoinTokens.Worker, 'worker token rotated');
  t.equal(after.JoinTokens.Manager, before.JoinTokens.Manager, 'manager token kept');
  t.equal(parseToken(after.JoinTokens.Worker).digest, api.ctx.digest(), 'same cluster digest');
  t.equal(roleForToken(after.JoinTokens.Worker, after.JoinTokens), 'worker');
  t.throws(() => roleForToken(before.JoinTokens.Worker, after.JoinTokens), /not valid/);
  t.ok(api.ctx.store.list('cluster')[0]!.ShoalRootSecret, 'the stored secret survives the update');

  const r2 = await api.req('POST', `/swarm/update?version=${after.Version.Index}&rotateManagerToken=1`, after.Spec);
  t.equal(r2.status, 200);
  t.not((await api.req('GET', '/swarm')).body.JoinTokens.Manager, before.JoinTokens.Manager);
});

t.test('POST /swarm/update: spec changes, version conflicts, validation', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const cur = (await api.req('GET', '/swarm')).body;
  const stale = cur.Version.Index;
  const ok = await api.req('POST', `/swarm/update?version=${stale}`, { ...cur.Spec, Orchestration: { TaskHistoryRetentionLimit: 9 } });
  t.equal(ok.status, 200);
  t.equal((await api.req('GET', '/swarm')).body.Spec.Orchestration.TaskHistoryRetentionLimit, 9);
  const conflict = await api.req('POST', `/swarm/update?version=${stale}`, cur.Spec);
  t.equal(conflict.status, 409);
  t.match(conflict.body.message, /^update out of sequence/);
  const noVersion = await api.req('POST', '/swarm/update', cur.Spec);
  t.equal(noVersion.status, 400);
  t.match(noVersion.body.message, /^version: /);
  const v = (await api.req('GET', '/swarm')).body.Version.Index;
  const bad = await api.req('POST', `/swarm/update?version=${v}`, { ...cur.Spec, Raft: { SnapshotInterval: -1 } });
  t.equal(bad.status, 400);
  t.match(bad.body.message, /^Spec\.Raft\.SnapshotInterval: must be >= 0/);
  const lock = await api.req('POST', `/swarm/update?version=${v}`, { ...cur.Spec, EncryptionConfig: { AutoLockManagers: true } });
  t.equal(lock.status, 400);
  t.match(lock.body.message, /^Spec\.EncryptionConfig\.AutoLockManagers: autolock is not supported/);
  const badBool = await api.req('POST', `/swarm/update?version=${v}&rotateWorkerToken=maybe`, cur.Spec);
  t.equal(badBool.status, 400);
  t.match(badBool.body.message, /^rotateWorkerToken: invalid boolean/);
});

t.test('unlock key is empty; init/join answer that this node is in a swarm', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  t.same((await api.req('GET', '/swarm/unlockkey')).body, { UnlockKey: '' });
  const init = await api.req('POST', '/swarm/init', { ListenAddr: '0.0.0.0:2377' });
  t.equal(init.status, 503);
  t.match(init.body.message, /already part of a swarm/);
  t.equal((await api.req('POST', '/swarm/join', {})).status, 503);
});
