/** Reads an admin bundle (ca.pem, cert.pem, key.pem: DOCKER_CERT_PATH's layout) for the API over TLS. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClientTls } from './client.js';
import { CliError } from './errors.js';
import { ADMIN_BUNDLE_FILES } from '../node/admin-bundle.js';

export function readClientTls(dir: string): ClientTls | null {
  const files = ADMIN_BUNDLE_FILES;
  if (!Object.values(files).every((f) => existsSync(path.join(dir, f)))) return null;
  try {
    return { ca: readFileSync(path.join(dir, files.ca), 'utf8'), cert: readFileSync(path.join(dir, files.cert), 'utf8'), key: readFileSync(path.join(dir, files.key), 'utf8') };
  } catch (err) {
    throw new CliError(`cannot read the client certificate in ${dir}: ${(err as Error).message}`);
  }
}
