import t from 'tap';
import { RaftError } from '../../src/raft/errors.js';
import { RaftDriverError } from '../../src/raft/driver.js';
import { FakeContext } from './fake-context.js';
import { spec, startApi } from './helpers.js';
import { recordingLogger } from '../helpers/logs.js';

t.test('_ping: OK with the headers the docker CLI negotiates from', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  for (const method of ['GET', 'HEAD']) {
    const r = await api.req(method, '/_ping');
    t.equal(r.status, 200, method);
    t.equal(r.text, method === 'GET' ? 'OK' : '', `${method} body`);
    t.equal(r.headers.get('api-version'), '1.47');
    t.equal(r.headers.get('docker-experimental'), 'false');
    t.equal(r.headers.get('swarm'), 'active/manager');
    t.match(r.headers.get('cache-control'), /no-cache/);
    t.equal(r.headers.get('pragma'), 'no-cache');
  }
  t.equal((await api.req('GET', '/v1.47/_ping')).text, 'OK', 'with the version prefix');
});

t.test('_ping answers "inactive" before the cluster exists, and without quorum', async (t) => {
  const api = await startApi({ init: false });
  t.teardown(api.close);
  t.equal((await api.req('GET', '/_ping')).headers.get('swarm'), 'inactive');
  api.ctx.init();
  api.ctx.failReads = new RaftError('NOT_LEADER', 'no leader');
  const r = await api.req('GET', '/_ping');
  t.equal(r.status, 200, 'a ping never waits for a barrier');
  t.equal(r.headers.get('swarm'), 'active/manager');
});

t.test('version prefix: accepted from 1.24 to 1.47, refused outside', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  t.equal((await api.req('GET', '/v1.24/version')).status, 200);
  t.equal((await api.req('GET', '/v1.41/nodes')).status, 200);
  const tooNew = await api.req('GET', '/v1.50/version');
  t.equal(tooNew.status, 400);
  t.match(tooNew.body.message, /client version 1.50 is too new. Maximum supported API version is 1.47/);
  const tooOld = await api.req('GET', '/v1.12/version');
  t.equal(tooOld.status, 400);
  t.match(tooOld.body.message, /too old/);
});

t.test('/version', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const r = await api.req('GET', '/version');
  t.equal(r.status, 200);
  t.equal(r.headers.get('content-type'), 'application/json');
  t.match(r.body, { Version: '0.1.0-test', ApiVersion: '1.47', MinAPIVersion: '1.24', Os: 'linux', Components: [{ Name: 'Engine', Version: '0.1.0-test' }] });
});

t.test('/info: the Swarm section docker info, node ls and join-token read', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  api.ctx.addNode({ hostname: 'wrk-1' });
  api.ctx.addNode({ hostname: 'mgr-2', role: 'manager', addr: '10.0.0.2' });
  const r = await api.req('GET', '/v1.47/info');
  t.equal(r.status, 200);
  const c = api.ctx.store.list('cluster')[0]!;
  t.match(r.body.Swarm, {
    NodeID: api.ctx.selfId,
    NodeAddr: '127.0.0.1',
    LocalNodeState: 'active',
    ControlAvailable: true,
    Error: '',
    Nodes: 3,
    Managers: 2,
    RemoteManagers: [
      { NodeID: api.ctx.selfId, Addr: '127.0.0.1:4242' },
      { Addr: '10.0.0.2:4242' },
    ],
    Cluster: { ID: c.ID, Version: { Index: c.Version.Index }, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Spec: { Name: 'default', Orchestration: { TaskHistoryRetentionLimit: 5 } } },
  });
  t.notOk('JoinTokens' in r.body.Swarm.Cluster, 'no join tokens in /info');
  t.notMatch(r.text, /ShoalRootSecret|root-/, 'the root secret never leaves');
  t.equal(r.body.Name, 'mgr-1');
  t.same(r.body.Warnings, []);
});

t.test('/info without quorum: 200, stale, saying so in Swarm.Error', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  api.ctx.failReads = new RaftError('NOT_LEADER', 'no leader known');
  const r = await api.req('GET', '/info');
  t.equal(r.status, 200);
  t.match(r.body.Swarm.Error, /no quorum/);
});

t.test('unknown routes 404, wrong methods 405, error bodies are {message}', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const r = await api.req('GET', '/v1.47/containers/json');
  t.equal(r.status, 404);
  t.same(r.body, { message: 'page not found', code: 'api.NOT_FOUND' }, "Docker's {message}, and our qualified code");
  const m = await api.req('PUT', '/services/create', {});
  t.equal(m.status, 405);
  t.match(m.body.message, /method PUT not allowed/);
});

t.test('malformed JSON is 400; an oversized body is 413', async (t) => {
  const api = await startApi({ server: { maxBodyBytes: 2048 } });
  t.teardown(api.close);
  const bad = await api.req('POST', '/services/create', undefined, { raw: '{"Name": "web",', headers: { 'Content-Type': 'application/json' } });
  t.equal(bad.status, 400);
  t.match(bad.body.message, /malformed JSON body/);
  const deep = await api.req('POST', '/services/create', undefined, { raw: JSON.stringify(spec('web', 1, { Extra: JSON.parse('['.repeat(100) + ']'.repeat(100)) })) });
  t.equal(deep.status, 400);
  t.match(deep.body.message, /nested deeper than 64 levels/);
  const strings = await api.req('POST', '/services/create', spec('web', 1, { Labels: { brackets: '[[[[{{{{'.repeat(20) + '\\"' } }));
  t.equal(strings.status, 201, 'brackets inside strings do not count');
  const big = await api.req('POST', '/services/create', spec('web2', 1, { Labels: { pad: 'x'.repeat(4000) } }));
  t.equal(big.status, 413);
  t.match(big.body.message, /larger than 2048 bytes/);
  // A chunked body without Content-Length is counted as it streams.
  const res = await fetch(`${api.base}/services/create`, {
    method: 'POST',
    body: new ReadableStream({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode('x'.repeat(1000)));
        c.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  t.equal(res.status, 413);
  await res.text();
  t.equal(api.ctx.store.count('service'), 1);
  const ok = await api.req('POST', '/services/create', spec('web3'));
  t.equal(ok.status, 201, 'the server still serves after refusing');
});

t.test('503 when there is no leader or the outcome is unknown', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const ctx: FakeContext = api.ctx;
  ctx.failReads = new RaftError('NOT_LEADER', 'this node is not the leader and knows none');
  for (const path of ['/nodes', '/services', '/tasks', '/swarm', `/nodes/${ctx.selfId}`]) {
    const r = await api.req('GET', path);
    t.equal(r.status, 503, path);
    t.match(r.body.message, /no leader/, path);
    t.equal(r.headers.get('retry-after'), '1');
  }
  ctx.failReads = null;
  for (const [err, re] of [
    [new RaftDriverError('TIMEOUT', 'not applied within 5000 ms'), /outcome unknown/],
    [new RaftDriverError('LEADER_CHANGED', 'leader changed'), /outcome unknown/],
    [new RaftDriverError('STOPPED', 'raft node stopped'), /shutting down/],
    [new RaftError('NOT_LEADER', 'no leader'), /no leader/],
    [new RaftError('UNCOMMITTED_CAP', 'busy'), /retry shortly/],
  ] as const) {
    ctx.failCommits = err;
    const r = await api.req('POST', '/services/create', spec('web'));
    t.equal(r.status, 503, err.message);
    t.match(r.body.message, re);
  }
  ctx.failCommits = null;
  t.equal((await api.req('POST', '/services/create', spec('web'))).status, 201);
});

t.test('a bug below the API is a 500, reported to the log', async (t) => {
  const logs: string[] = [];
  const ctx = new FakeContext();
  ctx.init();
  const api = await startApi({ ctx, server: { log: recordingLogger((r) => logs.push(r.msg)).log } });
  t.teardown(api.close);
  ctx.failCommits = new TypeError('cannot read properties of undefined');
  const r = await api.req('POST', '/services/create', spec('web'));
  t.equal(r.status, 500);
  t.match(r.body.message, /internal error: cannot read properties/);
  t.match(logs.join('\n'), /POST \/services\/create → 500/);
});
