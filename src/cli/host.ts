/**
 * Which manager API a command talks to, and how:
 * 1. `--host`, else $SHOAL_HOST: `unix:///path`, `http://host:port` (plain
 *    HTTP, for a proxy that authenticates), or `tcp://host:port[,tcp://…]` over
 *    TLS with the admin bundle in $SHOAL_CERT_PATH, else $DOCKER_CERT_PATH,
 *    else ./.shoal's (a `shoal up` cluster), else the default data dir's
 *    (`shoal init` writes it to <data-dir>/admin);
 * 2. else the managers of the cluster `shoal up` recorded in ./.shoal, over
 *    TLS with its bundle (tried in order, so the CLI still works when the
 *    first manager is down);
 * 3. else the unix socket of the default data dir ($SHOAL_DATA_DIR or
 *    ~/.shoal/node): what `shoal init` on this machine serves.
 */
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { ApiClient, isPlainHost, isUnixHost, normalizeHost, type ClientTls } from './client.js';
import { CliError } from './errors.js';
import { apiAddrs, DEFAULT_CLUSTER_DIR, localAdminDir, readCluster } from './local/cluster-file.js';
import { readClientTls } from './tls.js';
import { apiSocketPath } from '../node/api-socket-path.js';

export const defaultDataDir = (env: NodeJS.ProcessEnv = process.env): string => env.SHOAL_DATA_DIR ?? path.join(os.homedir(), '.shoal', 'node');

export function defaultApiHost(env: NodeJS.ProcessEnv = process.env): string {
  return `unix://${apiSocketPath(defaultDataDir(env))}`;
}

export interface ApiTargets {
  hosts: string[];
  tls?: ClientTls;
}

export function apiTargets(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): ApiTargets {
  const localDir = path.join(cwd, DEFAULT_CLUSTER_DIR);
  const local = readCluster(localDir);
  const given = flag ?? env.SHOAL_HOST;
  if (given) {
    // Several TCP managers, comma-separated: tried in order, and the next one when one is gone.
    const hosts = given.split(',').map((h) => normalizeHost(h));
    const host = hosts[0]!;
    if (hosts.length > 1 && hosts.some((h) => isUnixHost(h) || isPlainHost(h))) throw new CliError(`invalid API address ${JSON.stringify(given)}: a list of managers is for tcp:// addresses only`);
    if (isUnixHost(host) || isPlainHost(host)) return { hosts: [host] };
    const candidates = [env.SHOAL_CERT_PATH, env.DOCKER_CERT_PATH, local ? localAdminDir(localDir, local) : undefined, path.join(defaultDataDir(env), 'admin')];
    for (const dir of candidates) {
      if (!dir) continue;
      const tls = readClientTls(dir);
      if (tls) return { hosts, tls };
      if (dir === env.SHOAL_CERT_PATH || dir === env.DOCKER_CERT_PATH) throw new CliError(`${dir} (from ${dir === env.SHOAL_CERT_PATH ? 'SHOAL_CERT_PATH' : 'DOCKER_CERT_PATH'}) does not hold ca.pem, cert.pem and key.pem`);
    }
    throw new CliError(
      `the Shoal API over TCP (${host}) needs a client certificate of the cluster: set SHOAL_CERT_PATH to a directory holding ca.pem, cert.pem and key.pem (\`shoal init\` writes one to <data-dir>/admin), or use the manager's unix socket (unix://<data-dir>/api.sock)`,
    );
  }
  if (local) {
    const hosts = apiAddrs(local);
    const tls = readClientTls(localAdminDir(localDir, local));
    if (hosts.length > 0 && tls) return { hosts, tls };
  }
  return { hosts: [defaultApiHost(env)] };
}

/** The client for a command's action, from the global -H/--host. */
export function clientFor(cmd: Command): ApiClient {
  const { host } = cmd.optsWithGlobals<{ host?: string }>();
  return new ApiClient(apiTargets(host));
}
