/**
 * An administrator's client bundle for the control API over TLS, in the
 * layout the docker CLI reads from DOCKER_CERT_PATH: `ca.pem` (the cluster
 * CA, which verifies the managers), `cert.pem` and `key.pem` (mode 0600).
 * `shoal init` writes one to `<data-dir>/admin/`; `shoal swarm admin-cert`
 * writes more.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeFileDurably } from '../util/durable-file.js';

export const ADMIN_BUNDLE_FILES = { ca: 'ca.pem', cert: 'cert.pem', key: 'key.pem' } as const;

export function adminBundleDir(dataDir: string): string {
  return path.join(dataDir, 'admin');
}

export function writeAdminBundle(dir: string, b: { caPem: string; certPem: string; keyPem: string }): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeFileDurably(path.join(dir, ADMIN_BUNDLE_FILES.ca), b.caPem, 0o644);
  writeFileDurably(path.join(dir, ADMIN_BUNDLE_FILES.cert), b.certPem, 0o644);
  writeFileDurably(path.join(dir, ADMIN_BUNDLE_FILES.key), b.keyPem, 0o600);
}
