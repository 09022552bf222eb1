/**
 * Where a manager serves the control API. Closed by default, as dockerd is:
 *
 * - always a unix socket (`--api-socket`, default `<data-dir>/api.sock`),
 *   mode 0600: only its owner (root, on a real node) can call it;
 * - TCP only when asked (`--api-addr`), and then only TLS with client
 *   certificates the cluster CA signed: an administrator's (the bundle
 *   `shoal init` writes, or `shoal swarm admin-cert`) or a manager's. The
 *   manager signs its own serving certificate with the CA it holds, for the
 *   addresses it serves on, so the docker CLI's DOCKER_TLS_VERIFY checks it.
 *   It is re-issued at half its lifetime.
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ApiServer } from '../manager/api/index.js';
import { apiClientOfSubject, renewalAt } from '../wire/pki/identity.js';
import type { KeyPair } from '../wire/pki/x509.js';
import { DaemonError } from './errors.js';
import { loadServingCert, saveServingCert, servingCertStale } from './api-serving-cert.js';

const x509 = () => import('../wire/pki/x509.js');

import { MAX_SOCKET_PATH } from './api-socket-path.js';
import type { Logger } from '../util/log/interface.js';

/**
 * Serves `api` on the unix socket at `sockPath`. A socket file left by a
 * node that died is replaced; one a live process still answers on is not
 * taken over.
 */
export async function serveApiSocket(api: ApiServer, sockPath: string): Promise<void> {
  if (Buffer.byteLength(sockPath) > MAX_SOCKET_PATH) {
    throw new DaemonError(`the API socket path ${sockPath} is ${Buffer.byteLength(sockPath)} bytes, longer than the ${MAX_SOCKET_PATH} a unix socket may have: pass a shorter --api-socket`);
  }
  // The short fallback's directory (api-socket-path.ts): its owner's only.
  const dir = path.dirname(sockPath);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  if (existsSync(sockPath)) {
    if (await answers(sockPath)) throw new DaemonError(`another process serves the API on ${sockPath}: is this node already running?`);
    rmSync(sockPath, { force: true });
  }
  await api.listenUnix(sockPath).catch((err: Error) => {
    throw new DaemonError(`cannot serve the API on ${sockPath}: ${err.message}`);
  });
}

function answers(sockPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(sockPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface ApiTlsContext {
  api: ApiServer;
  /** host:port to serve on. */
  addr: string;
  nodeId: string;
  clusterId: string;
  /**
   * The cluster CA as this manager holds it now (null until its store has
   * it): what signs certificates now (the new root in a rotation's later
   * steps), and the roots clients may chain to (PEM bundle).
   */
  ca(): { signer: KeyPair; trust: string } | null;
  log: Logger;
  /** Where the serving certificate is kept across restarts (api-serving-cert.ts); none: signed anew on every start. */
  dataDir?: string;
}

/** The names a serving certificate for `host` carries: what a client may dial. */
export function serverNames(host: string): { ips: string[]; dnsNames: string[] } {
  const ips = new Set<string>(['127.0.0.1', '::1']);
  const dnsNames = new Set<string>(['localhost', os.hostname()]);
  if (host === '0.0.0.0' || host === '::') {
    for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) ips.add(a.address.replace(/%.*$/, ''));
  } else if (net.isIP(host)) ips.add(host);
  else dnsNames.add(host);
  return { ips: [...ips], dnsNames: [...dnsNames] };
}

/**
 * The TLS listener. Resolves once it listens; `stop()` ends the renewal
 * timer (the listener closes with the API server).
 */
export async function serveApiTls(c: ApiTlsContext): Promise<{ stop(): void; refresh(): Promise<void> }> {
  const ca = c.ca();
  if (!ca) throw new DaemonError('the cluster CA is not in this manager\'s store yet');
  const i = c.addr.lastIndexOf(':');
  const host = c.addr.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(c.addr.slice(i + 1));
  const want = { nodeId: c.nodeId, clusterId: c.clusterId, ...serverNames(host) };
  const issue = async (root: KeyPair) => {
    const kp = await (await x509()).issueApiServerCertificate(root, want);
    if (c.dataDir) saveServingCert(c.dataDir, kp);
    return kp;
  };
  // A restart serves the certificate it kept, while that is still right for now (no X.509 library load, no signing).
  const kept = c.dataDir ? loadServingCert(c.dataDir) : null;
  const stale = kept && servingCertStale(kept, ca.signer.certPem, want);
  if (stale) c.log.info(`a new API serving certificate: the kept one is ${stale}`);
  let current = kept && !stale ? kept : await issue(ca.signer);
  let signedBy = ca.signer.certPem;
  let trust = ca.trust;
  await c.api
    .listenTls({
      host,
      port,
      key: current.keyPem,
      cert: current.certPem,
      ca: ca.trust,
      authorize: (subject) => {
        const who = apiClientOfSubject(subject, c.clusterId);
        return typeof who === 'string' ? who : null;
      },
    })
    .catch((err: Error) => {
      throw new DaemonError(`cannot serve the API on ${c.addr}: ${err.message}`);
    });
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  const schedule = () => {
    const at = renewalAt(current.certPem);
    timer = setTimeout(() => void renew(), Math.max(1_000, Math.min(at - Date.now(), 2 ** 31 - 1)));
    timer.unref();
  };
  const renew = async () => {
    if (stopped) return;
    const root = c.ca();
    try {
      if (!root) throw new Error('the cluster CA is not in the store');
      current = await issue(root.signer);
      signedBy = root.signer.certPem;
      trust = root.trust;
      c.api.updateTls({ key: current.keyPem, cert: current.certPem, ca: trust });
      c.log.info('API serving certificate renewed');
    } catch (err) {
      c.log.warn(`cannot renew the API serving certificate (retrying in a minute): ${(err as Error).message}`);
      timer = setTimeout(() => void renew(), 60_000);
      timer.unref();
      return;
    }
    if (!stopped) schedule();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
    /**
     * A CA rotation moved on: trust what the cluster trusts now, and serve a
     * certificate of the root that signs now (clients' bundles trust both
     * roots while it runs).
     */
    async refresh() {
      const root = c.ca();
      if (stopped || !root) return;
      if (root.signer.certPem !== signedBy) {
        current = await issue(root.signer);
        signedBy = root.signer.certPem;
      } else if (root.trust === trust) return;
      trust = root.trust;
      c.api.updateTls({ key: current.keyPem, cert: current.certPem, ca: trust });
      c.log.info(`API TLS follows the cluster CA (${trust.match(/BEGIN CERTIFICATE/g)?.length ?? 0} trusted roots)`);
    },
  };
}
