/**
 * A node's TLS identity on disk, in `<data-dir>/tls/` (mode 0700):
 * - `node.key`: its private key (PKCS#8, mode 0600), made on this machine
 *   and never sent anywhere;
 * - `node.crt`: the certificate the managers signed for it (CN node ID, OU
 *   role, O cluster);
 * - `ca.crt`: the cluster's root CA certificate, which verifies every peer;
 * - `ca.key`: only on the node that founded the cluster, and only until the
 *   CA is in the Raft store (the managers hold it from then on);
 * - `api.key`, `api.crt`: managers serving the API on TCP only: the
 *   serving certificate they signed for themselves, kept for restarts
 *   (api-serving-cert.ts);
 * - `data.key`: managers only (mode 0600): the cluster data key that seals
 *   secret and config data and the CA key in the store
 *   (manager/secrets/data-key.ts), base64.
 * Every file is written durably (util/durable-file.ts).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileDurably } from '../util/durable-file.js';
import path from 'node:path';
import { DataKey } from '../manager/secrets/data-key.js';

export interface NodeTls {
  keyPem: string;
  certPem: string;
  caPem: string;
}

export function tlsDir(dataDir: string): string {
  return path.join(dataDir, 'tls');
}

export function loadNodeTls(dataDir: string): NodeTls | null {
  const d = tlsDir(dataDir);
  const files = ['node.key', 'node.crt', 'ca.crt'].map((f) => path.join(d, f));
  if (!files.every((f) => existsSync(f))) return null;
  const [keyPem, certPem, caPem] = files.map((f) => readFileSync(f, 'utf8')) as [string, string, string];
  return { keyPem, certPem, caPem };
}

export function saveNodeTls(dataDir: string, tls: NodeTls): void {
  const d = tlsDir(dataDir);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  chmodSync(d, 0o700);
  writeFileDurably(path.join(d, 'node.key'), tls.keyPem, 0o600);
  writeFileDurably(path.join(d, 'node.crt'), tls.certPem, 0o644);
  writeFileDurably(path.join(d, 'ca.crt'), tls.caPem, 0o644);
}

/** The founder keeps the CA key on disk only until the store holds it (a crash before then must not lose it). */
export function saveFounderCaKey(dataDir: string, keyPem: string): void {
  const d = tlsDir(dataDir);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileDurably(path.join(d, 'ca.key'), keyPem, 0o600);
}

export function loadFounderCaKey(dataDir: string): string | null {
  const f = path.join(tlsDir(dataDir), 'ca.key');
  return existsSync(f) ? readFileSync(f, 'utf8') : null;
}

export function removeFounderCaKey(dataDir: string): void {
  rmSync(path.join(tlsDir(dataDir), 'ca.key'), { force: true });
}

export function saveDataKey(dataDir: string, key: DataKey): void {
  const d = tlsDir(dataDir);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  writeFileDurably(path.join(d, 'data.key'), key.toBase64() + '\n', 0o600);
}

/** The manager's data key, or null when this data dir has none (a worker, or a manager from before secrets). */
export function loadDataKey(dataDir: string): DataKey | null {
  const f = path.join(tlsDir(dataDir), 'data.key');
  return existsSync(f) ? DataKey.fromBase64(readFileSync(f, 'utf8')) : null;
}

/** A demoted manager forgets the data key: workers never hold it. */
export function removeDataKey(dataDir: string): void {
  rmSync(path.join(tlsDir(dataDir), 'data.key'), { force: true });
}
