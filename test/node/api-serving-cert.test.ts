import t from 'tap';
import tls from 'node:tls';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRootCa, issueApiServerCertificate } from '../../src/wire/pki/x509.js';
import { certExpiry } from '../../src/wire/pki/identity.js';
import { loadServingCert, saveServingCert, servingCertStale } from '../../src/node/api-serving-cert.js';
import { tlsDir } from '../../src/node/tls-files.js';
import { Daemon } from '../../src/node/daemon.js';
import { nextHost } from '../manager/harness.js';

/**
 * A manager keeps its API serving certificate in its data dir and serves
 * it again after a restart, but only while Node's own parser finds it right
 * for now: each way it can be wrong is refused here, and a real daemon
 * restart serves the very same certificate.
 */
const want = { nodeId: 'm1', clusterId: 'c1', ips: ['127.0.0.1', '::1', '10.1.2.3'], dnsNames: ['localhost', 'box'] };

t.test('what may be served again, and what not', async (t) => {
  const ca = await createRootCa('c1');
  const kp = await issueApiServerCertificate(ca, want);
  t.equal(servingCertStale(kp, ca.certPem, want), null, 'fresh, right CA, right names: served again');
  t.equal(servingCertStale(kp, ca.certPem, { ...want, ips: ['10.1.2.3', '0:0:0:0:0:0:0:1', '127.0.0.1'], dnsNames: ['box', 'LOCALHOST'] }), null, 'the same names in another order and spelling');

  const other = await createRootCa('c1');
  t.match(servingCertStale(kp, other.certPem, want), /not signed by the CA that signs now/, 'a rotated CA');
  t.match(servingCertStale(kp, ca.certPem, { ...want, ips: [...want.ips, '10.9.9.9'] }), /other addresses/, 'a new address');
  t.match(servingCertStale(kp, ca.certPem, { ...want, dnsNames: ['localhost'] }), /other addresses/, 'a name fewer');
  t.match(servingCertStale(kp, ca.certPem, { ...want, nodeId: 'm2' }), /issued to/, 'another node');
  t.match(servingCertStale(kp, ca.certPem, { ...want, clusterId: 'c2' }), /issued to/, 'another cluster');
  const { notBefore, notAfter } = certExpiry(kp.certPem);
  t.equal(servingCertStale(kp, ca.certPem, want, notBefore + (notAfter - notBefore) / 2 - 60_000), null, 'a minute before its half-life');
  t.match(servingCertStale(kp, ca.certPem, want, notBefore + (notAfter - notBefore) / 2), /half-life/, 'at its half-life (when it is renewed anyway)');
  const second = await issueApiServerCertificate(ca, want);
  t.match(servingCertStale({ certPem: kp.certPem, keyPem: second.keyPem }, ca.certPem, want), /key does not match/, 'another key');
  t.match(servingCertStale({ certPem: 'garbage', keyPem: kp.keyPem }, ca.certPem, want), /unreadable/, 'garbage');

  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-apicert-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.equal(loadServingCert(dir), null, 'nothing kept yet');
  saveServingCert(dir, kp);
  t.same(loadServingCert(dir), kp, 'kept and read back');
  t.equal(statSync(path.join(tlsDir(dir), 'api.key')).mode & 0o777, 0o600, 'the key is its owner\'s only');
});

function servedFingerprint(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false }, () => {
      const f = s.getPeerX509Certificate()?.fingerprint256 ?? '';
      s.destroy();
      resolve(f);
    });
    s.on('error', reject);
  });
}

t.test('a restarted manager serves the certificate it kept', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-apicert-d-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const host = nextHost();
  const opts = { dataDir, advertiseAddr: `${host}:4242`, apiAddr: `${host}:2375`, tickMs: 20 };
  let d = await Daemon.start({ ...opts, init: true });
  const first = await servedFingerprint(host, 2375).finally(() => d.stop());
  const kept = readFileSync(path.join(tlsDir(dataDir), 'api.crt'), 'utf8');
  t.equal(new (await import('node:crypto')).X509Certificate(kept).fingerprint256, first, 'the served certificate is the kept one');
  d = await Daemon.start(opts);
  const again = await servedFingerprint(host, 2375).finally(() => d.stop());
  t.equal(again, first, 'the same certificate after the restart');
});
