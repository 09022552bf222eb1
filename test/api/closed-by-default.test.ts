/**
 * The API's two listeners a node uses (#12 "closed by default"), with real
 * sockets and certificates:
 * - TLS: an admin's or a manager's certificate of this cluster is served; no
 *   certificate, another CA's, or plain HTTP fail the handshake (counted);
 *   a worker's certificate, or another cluster's from the same CA, gets a 403
 *   naming why (counted), and nothing it asked for happens;
 * - unix: the socket file is mode 0600 and answers; another user is refused
 *   by the kernel (checked as `nobody` when the test runs as root).
 */
import t from 'tap';
import https from 'node:https';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApiServer } from '../../src/manager/api/index.js';
import { createNodeKey, createRootCa, issueAdminCertificate, issueApiServerCertificate, issueNodeCertificate } from '../../src/wire/pki/x509.js';
import { apiClientOfSubject } from '../../src/wire/pki/identity.js';
import { FakeContext } from './fake-context.js';
import { waitFor } from '../helpers/wait.js';
import { httpRequest } from '../helpers/http-request.js';

const get = httpRequest;

t.test('TLS with client certificates: admins and managers in; strangers, workers and other CAs out', async (t) => {
  const ctx = new FakeContext();
  ctx.init();
  const clusterId = 'cluster-a';
  const ca = await createRootCa(clusterId);
  const server = await issueApiServerCertificate(ca, { nodeId: 'm1', clusterId, ips: ['127.0.0.1'], dnsNames: ['localhost'] });
  const api = createApiServer(ctx, { version: 'test' });
  t.teardown(() => api.close());
  const addr = await api.listenTls({
    host: '127.0.0.1',
    port: 0,
    key: server.keyPem,
    cert: server.certPem,
    ca: ca.certPem,
    authorize: (s) => {
      const who = apiClientOfSubject(s, clusterId);
      return typeof who === 'string' ? who : null;
    },
  });
  const at = { host: '127.0.0.1', port: addr.port, ca: ca.certPem };

  const admin = await issueAdminCertificate(ca, { name: 'admin', clusterId });
  let r = await get({ ...at, key: admin.keyPem!, cert: admin.certPem, path: '/_ping' });
  t.equal(r.status, 200, "an admin certificate: served (and the server's certificate verified for 127.0.0.1)");

  // An admin certificate for a key the requester holds (a CSR), as `shoal swarm admin-cert` makes.
  const own = await createNodeKey('laptop');
  const signed = await issueAdminCertificate(ca, { name: 'laptop', clusterId, csrPem: own.csrPem });
  t.equal(signed.keyPem, undefined, 'a CSR-signed certificate comes without a key');
  r = await get({ ...at, key: own.keyPem, cert: signed.certPem, path: '/_ping' });
  t.equal(r.status, 200, 'an admin certificate signed for a CSR: served');

  const mk = await createNodeKey('m2');
  r = await get({ ...at, key: mk.keyPem, cert: await issueNodeCertificate(ca, mk.csrPem, { nodeId: 'm2', role: 'manager', clusterId }), path: '/_ping' });
  t.equal(r.status, 200, "a manager's node certificate: served");

  const wk = await createNodeKey('w1');
  const workerCert = await issueNodeCertificate(ca, wk.csrPem, { nodeId: 'w1', role: 'worker', clusterId });
  const servicesBefore = ctx.store.count('service');
  r = await get({ ...at, key: wk.keyPem, cert: workerCert, path: '/v1.47/services/create' }, 'POST', JSON.stringify({ Name: 'evil', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } }));
  t.equal(r.status, 403, "a worker's certificate: 403");
  t.match(JSON.parse(r.body).message, /forbidden: the client certificate is a worker certificate \(w1\); the control API needs an admin certificate/);
  t.equal(ctx.store.count('service'), servicesBefore, 'and the service it asked for was not created');
  t.equal(api.metrics.requestsForbidden, 1, 'counted');

  const otherCluster = await issueAdminCertificate(ca, { name: 'admin', clusterId: 'cluster-b' });
  r = await get({ ...at, key: otherCluster.keyPem!, cert: otherCluster.certPem, path: '/_ping' });
  t.equal(r.status, 403, "another cluster's admin certificate (same CA): 403");
  t.equal(api.metrics.requestsForbidden, 2);

  const refusedBefore = api.metrics.tlsHandshakesRefused;
  await t.rejects(get({ ...at, path: '/_ping' }), 'no client certificate: the handshake fails');
  const otherCa = await createRootCa(clusterId);
  const forged = await issueAdminCertificate(otherCa, { name: 'admin', clusterId });
  await t.rejects(get({ ...at, key: forged.keyPem!, cert: forged.certPem, path: '/_ping' }), 'an admin certificate from another CA (same cluster ID): the handshake fails');
  await t.rejects(get({ host: '127.0.0.1', port: addr.port, protocol: 'http:', path: '/_ping' }), 'plain HTTP: refused');
  await waitFor(() => api.metrics.tlsHandshakesRefused >= refusedBefore + 3, { timeoutMs: 5_000, what: 'three refused handshakes counted' }).catch(() => {});
  t.equal(api.metrics.tlsHandshakesRefused, refusedBefore + 3, 'the three refused handshakes are counted');

  // A renewal replaces the serving certificate for new connections.
  const renewed = await issueApiServerCertificate(ca, { nodeId: 'm1', clusterId, ips: ['127.0.0.1'], dnsNames: [] });
  api.updateTls({ key: renewed.keyPem, cert: renewed.certPem, ca: ca.certPem });
  const served = await new Promise<string>((resolve, reject) => {
    const req = https.request({ ...at, key: admin.keyPem!, cert: admin.certPem, path: '/_ping', agent: false }, (res) => {
      resolve((res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint256);
      res.resume();
    });
    req.on('error', reject);
    req.end();
  });
  t.equal(served, new (await import('node:crypto')).X509Certificate(renewed.certPem).fingerprint256, 'after updateTls, new connections see the renewed certificate');

  // Closed stays closed: a TLS listener that starts late (it waits for the CA) must not outlive close(),
  // or it keeps a stopped node's process alive (a fresh-clone CI run hung on exactly this).
  await api.close();
  await t.rejects(
    api.listenTls({ host: '127.0.0.1', port: 0, key: server.keyPem, cert: server.certPem, ca: ca.certPem, authorize: () => null }),
    /closed/,
    'listenTls after close() is refused',
  );
});

t.test('the unix socket: mode 0600, answers its owner, refuses other users', async (t) => {
  const ctx = new FakeContext();
  ctx.init();
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-api-sock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const sock = path.join(dir, 'api.sock');
  const api = createApiServer(ctx, { version: 'test' });
  t.teardown(() => api.close());
  await api.listenUnix(sock);
  t.equal(statSync(sock).mode & 0o777, 0o600, 'mode 0600');
  t.equal((await get({ socketPath: sock, path: '/_ping' })).status, 200, 'its owner is served');
  if (process.getuid?.() !== 0) {
    t.comment('not root: the other-user check needs to switch users');
    return;
  }
  // The directory must be passable for the check to be about the socket's own mode.
  const { chmodSync } = await import('node:fs');
  chmodSync(dir, 0o755);
  const probe = spawnSync(process.execPath, ['-e', `require('net').connect(${JSON.stringify(sock)}).on('connect', () => { console.log('connected'); process.exit(0); }).on('error', (e) => { console.log(e.code); process.exit(0); })`], {
    uid: 65534,
    gid: 65534,
    encoding: 'utf8',
    timeout: 10_000,
  });
  t.equal(probe.stdout.trim(), 'EACCES', 'user nobody cannot connect');
});
