/**
 * The ws transport over TLS (wss): a throwaway CA and node certificate made
 * with the openssl CLI in a temp dir, then the transport conformance suite
 * (identity, request/response, 10,000 ordered messages, streams, clean close,
 * oversize frames) with every transport using them; the peer-process checks
 * are skipped (fixtures/peer.ts starts plain ws). Then what TLS adds: the
 * listener really speaks TLS with our certificate, a plain ws client is
 * refused, and a dialler that trusts another CA refuses the node with a
 * typed WireError. Skipped when the openssl CLI is missing.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import t from 'tap';
import { WireError, WireErrorCode } from '../../src/wire/errors.js';
import type { Transport } from '../../src/wire/interface.js';
import { WsTransport, type TlsOptions } from '../../src/wire/ws-transport.js';
import { within } from '../helpers/wait.js';
import { conformance } from './conformance.js';
import { Echo } from './fixtures/messages.js';

const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
if (openssl.status !== 0) {
  t.plan(0, `openssl CLI unavailable (${openssl.error?.message ?? openssl.stderr.trim()}): cannot make test certificates`);
} else {
  t.comment(`certificates by ${openssl.stdout.trim()}`);
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-wss-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const run = (...args: string[]) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  };
  /** A self-signed CA: <name>.key, <name>.crt. */
  const makeCa = (name: string) => {
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`);
  };
  /** A node certificate for 127.0.0.1 signed by `ca`: <name>.key, <name>.crt. */
  const makeNode = (name: string, ca: string) => {
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    writeFileSync(path.join(dir, `${name}.ext`), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
    run('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
  };
  makeCa('shoal-test-ca');
  makeNode('node', 'shoal-test-ca');
  makeCa('other-ca');
  makeNode('stranger', 'other-ca');
  const read = (f: string) => readFileSync(path.join(dir, f));
  const good: TlsOptions = { key: read('node.key'), cert: read('node.crt'), ca: read('shoal-test-ca.crt') };

  conformance(t, {
    name: 'wss',
    make: async (nodeId, connection) => new WsTransport({ nodeId, tls: good, ...(connection ? { connection } : {}) }),
    noPeerProcess: 'the peer fixture (fixtures/peer.ts) starts plain ws; peer death and reconnect are covered by ws.test.ts',
  });

  const transports: Transport[] = [];
  const make = (nodeId: string, tlsOpts?: TlsOptions) => {
    const tr = new WsTransport({ nodeId, ...(tlsOpts ? { tls: tlsOpts } : {}) });
    transports.push(tr);
    return tr;
  };
  t.teardown(() => Promise.all(transports.map((tr) => tr.close())));

  const server = make('tls-node', good);
  server.onRequest(Echo, (b) => ({ payload: b.payload }));
  const addr = await server.listen();
  const [host, port] = [addr.slice(0, addr.lastIndexOf(':')), Number(addr.slice(addr.lastIndexOf(':') + 1))];

  t.test('wss: the listener speaks TLS and presents the node certificate', async (t) => {
    const info = await within(
      new Promise<{ subject: string; issuer: string; authorized: boolean; protocol: string | null }>((resolve, reject) => {
        const s = tls.connect({ host, port, ca: good.ca, servername: 'localhost' }, () => {
          const c = s.getPeerCertificate();
          resolve({ subject: c.subject.CN as string, issuer: c.issuer.CN as string, authorized: s.authorized, protocol: s.getProtocol() });
          s.end();
        });
        s.on('error', reject);
      }),
      10_000,
      'a raw TLS handshake',
    );
    t.equal(info.subject, 'node', 'the node certificate');
    t.equal(info.issuer, 'shoal-test-ca', 'issued by the test CA');
    t.ok(info.authorized, 'valid for the test CA');
    t.match(info.protocol, /^TLSv1\.[23]$/, `protocol ${info.protocol}`);
  });

  t.test('wss: a dialler with the right CA connects and learns the node identity', async (t) => {
    const c = await make('trusting', good).connect(addr, { expectNodeId: 'tls-node' });
    t.equal(c.peer.nodeId, 'tls-node');
    t.equal(Buffer.from((await c.request(Echo, { payload: Buffer.from('over tls') })).payload).toString(), 'over tls');
    c.close('done');
  });

  t.test('wss: a dialler that trusts another CA refuses the node (typed WireError)', async (t) => {
    const wrong: TlsOptions = { key: read('stranger.key'), cert: read('stranger.crt'), ca: read('other-ca.crt') };
    const err = await make('suspicious', wrong)
      .connect(addr, { expectNodeId: 'tls-node', timeoutMs: 5_000 })
      .then(
        () => null,
        (e: unknown) => e,
      );
    t.ok(err instanceof WireError, `a WireError (${String(err)})`);
    t.equal((err as WireError).code, WireErrorCode.CONNECT_FAILED, 'CONNECT_FAILED');
    t.match((err as WireError).message, /certificate|self.signed|verify/i, `says why: ${(err as WireError).message}`);
  });

  t.test('wss: a dialler with no CA at all does not trust the node either', async (t) => {
    // rejectUnauthorized defaults to true only when `ca` is given; the system store does not know the test CA.
    const noCa: TlsOptions = { key: read('node.key'), cert: read('node.crt'), rejectUnauthorized: true };
    await t.rejects(make('no-ca', noCa).connect(addr, { timeoutMs: 5_000 }), { code: WireErrorCode.CONNECT_FAILED });
  });

  t.test('wss: a plain ws dialler cannot talk to a TLS listener', async (t) => {
    await t.rejects(make('plain').connect(addr, { timeoutMs: 5_000 }), { code: WireErrorCode.CONNECT_FAILED });
  });

  t.test('wss: the listener refuses a dialler whose certificate another CA issued (mutual TLS)', async (t) => {
    // The dialler verifies the server properly (right CA) but presents a certificate from a CA the cluster does not trust.
    const impostor: TlsOptions = { key: read('stranger.key'), cert: read('stranger.crt'), ca: read('shoal-test-ca.crt') };
    const r = await make('impostor', impostor)
      .connect(addr, { timeoutMs: 5_000 })
      .then(
        (c) => (c.close('x'), 'connected'),
        (e: WireError) => e.code,
      );
    t.not(r, 'connected', `the impostor is refused (got: ${r})`);
  });
}
