/**
 * The attack suite (#12): a real 3+2 cluster — the first manager started
 * with `shoal init`, two more managers and two workers with `shoal join`,
 * real processes on their own loopback
 * addresses — and an attacker in this process with real sockets. Each
 * attack is tried for real — strangers, another CA, a worker's stolen
 * certificate used for Raft, membership, another node's session and lease,
 * an impersonating hello, a Join reusing a manager's ID, key material in
 * API reads, an absurd replica count, the API over TCP without a client
 * certificate or with a worker's, its unix socket opened by another user,
 * a removed node coming back — and each
 * must be refused and must change nothing
 * (the manager still leads, writes still commit, no node changed role or
 * went away). The refusals are counted by the node (wire metrics: dropped
 * "unauthorized", connectionsRefused, handshakeFailures — checked one by one
 * in test/wire/mtls-identity.test.ts). The suite ends with one line:
 * `attacks: N tried, 0 succeeded`.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ProcCluster, type NodeProc } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { WsTransport, type TlsOptions } from '../../src/wire/ws-transport.js';
import { isWireError } from '../../src/wire/errors.js';
import type { Connection, Stream } from '../../src/wire/interface.js';
import { registry } from '../../src/wire/registry.js';
import { CLUSTER_MESSAGES } from '../../src/protocol/index.js';
import { RaftWire } from '../../src/raft/transport.js';
import { CaCertificate, Join, MembershipChange } from '../../src/protocol/membership.js';
import { SessionOpen, type SessionFrame } from '../../src/protocol/dispatcher.js';
import { LeaseRenew } from '../../src/protocol/lease.js';
import { TaskLogs } from '../../src/protocol/logs.js';
import { createNodeKey, createRootCa, issueNodeCertificate } from '../../src/wire/pki/x509.js';
import type { Message } from '../../src/raft/interface.js';

registry.add(...CLUSTER_MESSAGES);

interface NodeRow {
  ID: string;
  Spec: { Role: string };
  Description: { Hostname: string };
  Status: { State: string };
  ManagerStatus?: { Leader?: boolean };
}

t.test('attacks on a real cluster: every one refused, nothing changed', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  // 3+2: three managers (a Raft group an attacker could try to split) and two workers.
  await c.join('manager', m1);
  await c.join('manager', m1);
  const w1 = await c.join('worker', m1);
  // After w1 is removed, w2 (which holds no store) must refuse it too.
  const w2 = await c.join('worker', m1);
  const nodes = async (): Promise<NodeRow[]> => (await c.http(m1, 'GET', '/nodes')).json<NodeRow[]>();
  await waitFor(async () => (await nodes()).filter((n) => n.Status.State === 'ready').length === 5, { timeoutMs: 60_000, what: 'five nodes ready' });
  let before = await nodes();
  const managerId = before.find((n) => n.Description.Hostname === m1.name)!.ID;
  const workerId = before.find((n) => n.Description.Hostname === w1.name)!.ID;
  const swarm = (await c.http(m1, 'GET', '/swarm')).json<{ ID: string; JoinTokens: { Worker: string } }>();
  const clusterAddr = `${m1.host}:${m1.port}`;
  const tlsOf = (n: NodeProc): TlsOptions => {
    const d = path.join(n.dataDir, 'tls');
    return { key: readFileSync(path.join(d, 'node.key')), cert: readFileSync(path.join(d, 'node.crt')), ca: readFileSync(path.join(d, 'ca.crt')), nodeIdentity: true };
  };
  const caPem = readFileSync(path.join(m1.dataDir, 'tls', 'ca.crt'), 'utf8');
  const transports: WsTransport[] = [];
  t.teardown(() => Promise.all(transports.map((x) => x.close())));
  const as = (nodeId: string, tls: TlsOptions) => {
    const x = new WsTransport({ nodeId, tls });
    transports.push(x);
    return x;
  };
  /** A raft frame that would depose the leader if it were stepped: a far higher term. */
  const depose = (from: string, type: 'heartbeat' | 'vote'): Message =>
    (type === 'vote'
      ? { type: 'vote', from, to: managerId, term: 1_000_000, pre: false, lastIndex: 1_000_000, lastTerm: 1_000_000, transfer: true }
      : { type: 'heartbeat', from, to: managerId, term: 1_000_000, commit: 0, readSeq: 0 }) as Message;

  let tried = 0;
  let succeeded = 0;
  const results: string[] = [];
  /** Runs one attack: `refused` must hold, then the cluster must be as it was. */
  const attack = async (name: string, run: () => Promise<boolean>) => {
    tried++;
    let refused = false;
    try {
      refused = await run();
    } catch (err) {
      refused = false;
      results.push(`${name}: the attack itself failed unexpectedly: ${(err as Error).message}`);
    }
    const now = await nodes();
    const same = JSON.stringify(now.map((n) => [n.ID, n.Spec.Role, n.ManagerStatus?.Leader ?? false]).sort()) === JSON.stringify(before.map((n) => [n.ID, n.Spec.Role, n.ManagerStatus?.Leader ?? false]).sort());
    const write = await c.http(m1, 'PUT', `/shoal/kv/after-${tried}`, { value: name });
    const ok = refused && same && write.status === 200;
    if (!ok) succeeded++;
    t.ok(ok, `${name}: ${refused ? 'refused' : 'NOT refused'}; nodes ${same ? 'unchanged' : 'CHANGED'}; a write after it ${write.status === 200 ? 'commits' : `fails (${write.status})`}`);
  };
  /** The remote error's code, bare (wire-level) or qualified by its module (manager.NODE_EXISTS). */
  const refusedWith = (err: unknown, code: string) => {
    const rc = isWireError(err) ? (err as { remoteCode?: string }).remoteCode : undefined;
    return rc === code || (rc !== undefined && rc.endsWith(`.${code}`));
  };

  await attack('a stranger with no certificate sends Raft frames and a membership change', async () => {
    const conn = await as('stranger', {}).connect(clusterAddr);
    conn.send(RaftWire, depose('stranger', 'vote'));
    conn.send(RaftWire, depose('stranger', 'heartbeat'));
    const err = await conn.request(MembershipChange, { action: 'remove-force', nodeId: managerId }).catch((e: unknown) => e);
    conn.close();
    return refusedWith(err, 'PERMISSION_DENIED');
  });

  await attack('a certificate from another CA (same cluster ID, another key)', async () => {
    const other = await createRootCa(swarm.ID);
    const k = await createNodeKey('intruder');
    const cert = await issueNodeCertificate(other, k.csrPem, { nodeId: 'intruder', role: 'manager', clusterId: swarm.ID });
    const err = await as('intruder', { key: k.keyPem, cert, ca: caPem, nodeIdentity: true }).connect(clusterAddr, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    return isWireError(err);
  });

  await attack('a worker certificate sends Raft appends and votes at a far higher term', async () => {
    const conn = await as(workerId, tlsOf(w1)).connect(clusterAddr);
    conn.send(RaftWire, depose(workerId, 'vote'));
    conn.send(RaftWire, depose(workerId, 'heartbeat'));
    // Frames on one connection are handled in order: once this request is answered, the node has
    // handled the raft frames too (and, had it stepped them, would have left the leadership).
    await conn.request(LeaseRenew, { nodeId: workerId });
    conn.close();
    return true; // refused means: the checks after the attack find the same leader and a working cluster
  });

  await attack('a worker certificate demotes the manager', async () => {
    const conn = await as(workerId, tlsOf(w1)).connect(clusterAddr);
    const err = await conn.request(MembershipChange, { action: 'demote', nodeId: managerId }).catch((e: unknown) => e);
    conn.close();
    return refusedWith(err, 'PERMISSION_DENIED');
  });

  await attack("a worker opens a dispatcher session, and renews a lease, as the manager's node", async () => {
    const conn: Connection = await as(workerId, tlsOf(w1)).connect(clusterAddr);
    const s = conn.openStream(SessionOpen, {
      type: 'open',
      nodeId: managerId,
      description: { hostname: 'x', os: 'linux', arch: 'x86_64', nanoCpus: 1e9, memoryBytes: 1e9, labels: {}, runtimes: ['process'], engineVersion: '0', clusterAddr: '127.0.0.1:1', gossipAddr: '127.0.0.1:1' },
    }) as Stream<SessionFrame>;
    const end = await new Promise<string>((resolve) => s.onData((f) => f.type === 'session' && resolve('a session was granted'), (err) => resolve(err?.message ?? 'ended')));
    const lease = await conn.request(LeaseRenew, { nodeId: managerId }).catch((e: unknown) => e);
    conn.close();
    const ok = /speak for node/.test(end) && refusedWith(lease, 'PERMISSION_DENIED');
    if (!ok) results.push(`session: ${end}; lease: ${(lease as Error)?.message ?? JSON.stringify(lease)} (${(lease as { remoteCode?: string }).remoteCode})`);
    return ok;
  });

  await attack("a hello claiming the manager's ID over the worker's certificate", async () => {
    const err = await as(managerId, tlsOf(w1)).connect(clusterAddr).catch((e: unknown) => e);
    return isWireError(err) && /certificate is node/.test((err as Error).message);
  });

  await attack("a Join with a valid worker token reusing the manager's ID", async () => {
    const x = as(managerId, {});
    let conn = await x.connect(clusterAddr);
    const ca = (await conn.request(CaCertificate, {})).caCertificate;
    conn.close();
    x.updateTls({ ca, nodeIdentity: true });
    conn = await x.connect(clusterAddr);
    const k = await createNodeKey(managerId);
    const err = await conn.request(Join, { token: swarm.JoinTokens.Worker, nodeId: managerId, hostname: 'evil', clusterAddr: '127.0.0.1:1', gossipAddr: '127.0.0.1:1', csr: k.csrPem }).catch((e: unknown) => e);
    conn.close();
    if (!refusedWith(err, 'NODE_EXISTS')) results.push(`join: ${(err as Error)?.message ?? JSON.stringify(err)} (${(err as { remoteCode?: string }).remoteCode})`);
    return refusedWith(err, 'NODE_EXISTS');
  });

  await attack('GET /swarm and /info scanned for key material', async () => {
    const gossipKey = (JSON.parse(readFileSync(path.join(m1.dataDir, 'node.json'), 'utf8')) as { gossipKey: string }).gossipKey;
    const nodeKey = readFileSync(path.join(m1.dataDir, 'tls', 'node.key'), 'utf8');
    for (const p of ['/swarm', '/info', '/nodes', `/nodes/${managerId}`]) {
      const body = (await c.http(m1, 'GET', p)).body;
      if (body.includes(gossipKey) || /PRIVATE KEY/.test(body) || body.includes(nodeKey.split('\n')[1]!)) return false;
    }
    return true;
  });

  await attack('Replicas: 1e15', async () => {
    const r = await c.http(m1, 'POST', '/services/create', { Name: 'huge', TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sleep', '1'] } }, Mode: { Replicated: { Replicas: 1e15 } } });
    return r.status === 400 && /Replicas/.test(r.body);
  });

  /** Whether a service named `name` exists, asked the authenticated way (the admin bundle). */
  const serviceExists = async (name: string) => (await c.http(m1, 'GET', '/services')).json<{ Spec: { Name: string } }[]>().some((x) => x.Spec.Name === name);
  const evilService = JSON.stringify({ Name: 'evil', Mode: { Global: {} }, TaskTemplate: { ContainerSpec: { Image: 'busybox', Command: ['sh', '-c', 'id > /tmp/owned'] } } });
  const apiPost = (extra: https.RequestOptions) =>
    new Promise<number>((resolve, reject) => {
      const req = https.request({ host: m1.host, port: m1.apiPort, ca: caPem, path: '/v1.47/services/create', method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(evilService) }, ...extra }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end(evilService);
    });

  await attack('API calls over TCP without a client certificate (a global service that runs as root everywhere)', async () => {
    const tls = await apiPost({}).then((s) => `answered ${s}`, (e: Error) => `refused: ${e.message}`);
    const plain = await new Promise<string>((resolve) => {
      const req = http.request({ host: m1.host, port: m1.apiPort, path: '/v1.47/services/create', method: 'POST', agent: false }, (res) => resolve(`answered ${res.statusCode}`));
      req.on('error', (e) => resolve(`refused: ${e.message}`));
      req.end(evilService);
    });
    results.push(`API without a certificate: TLS ${tls}; plain HTTP ${plain}`);
    return tls.startsWith('refused') && plain.startsWith('refused') && !(await serviceExists('evil'));
  });

  await attack("API calls over TCP with a worker's node certificate", async () => {
    const d = path.join(w1.dataDir, 'tls');
    const status = await apiPost({ key: readFileSync(path.join(d, 'node.key')), cert: readFileSync(path.join(d, 'node.crt')) }).catch(() => 0);
    return status === 403 && !(await serviceExists('evil'));
  });

  if (process.getuid?.() === 0) {
    await attack("the manager's API unix socket opened by another user (nobody)", async () => {
      const sock = path.join(m1.dataDir, 'api.sock');
      const probe = spawnSync(process.execPath, ['-e', `require('net').connect(${JSON.stringify(sock)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 });
      results.push(`socket as nobody: ${probe.stdout.trim()}`);
      return probe.stdout.trim() === 'EACCES' || probe.stdout.trim() === 'ENOENT' || probe.stdout.trim() === 'EPERM';
    });
  }

  // Last: the worker is removed (`shoal node rm --force`); its certificate is still within its
  // lifetime, but no manager takes it any more.
  await c.kill(w1);
  const rm = await c.http(m1, 'DELETE', `/nodes/${workerId}?force=1`);
  t.equal(rm.status, 200, `node rm --force of the worker (${rm.body})`);
  await waitFor(async () => !(await nodes()).some((n) => n.ID === workerId), { what: 'the worker gone from the store' });
  before = await nodes();
  await attack('a removed node reconnects with its certificate', async () => {
    const conn = await as(workerId, tlsOf(w1)).connect(clusterAddr).catch((e: unknown) => e);
    if (isWireError(conn)) return true;
    const err = await (conn as Connection).request(LeaseRenew, { nodeId: workerId }).catch((e: unknown) => e);
    (conn as Connection).close();
    if (!refusedWith(err, 'PERMISSION_DENIED')) results.push(`removed: ${(err as Error)?.message ?? JSON.stringify(err)}`);
    return refusedWith(err, 'PERMISSION_DENIED') && /removed/.test((err as Error).message);
  });

  await attack('a removed node connects to a worker (which holds no store) with its certificate', async () => {
    // The worker learns the deny list over its session: wait until it refuses w1 as removed.
    let last = '';
    const refused = await waitFor(
      async () => {
        const conn = await as(workerId, tlsOf(w1)).connect(`${w2.host}:${w2.port}`).catch((e: unknown) => e);
        if (isWireError(conn)) {
          last = (conn as Error).message;
          return /removed/.test(last) ? true : undefined;
        }
        // Task logs: what a worker serves (to managers only); the deny list is checked first.
        const s = (conn as Connection).openStream(TaskLogs, { type: 'open', taskIds: [], follow: false });
        last = await new Promise<string>((resolve) => s.onData(() => {}, (err) => resolve(err?.message ?? 'ended without an error')));
        (conn as Connection).close();
        return /removed/.test(last) ? true : undefined;
      },
      { timeoutMs: 10_000, what: 'the worker refusing the removed node' },
    ).catch(() => false);
    if (!refused) results.push(`removed → worker: ${last}`);
    return refused === true;
  });

  for (const r of results) t.comment(r);
  t.comment(`attacks: ${tried} tried, ${succeeded} succeeded`);
  t.equal(succeeded, 0, `attacks: ${tried} tried, ${succeeded} succeeded`);
});
