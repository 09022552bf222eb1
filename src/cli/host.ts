/**
 * Which manager API a command talks to: `--host`, else $SHOAL_HOST, else
 * the managers of the cluster `shoal up` recorded in ./.shoal (tried in
 * order, so the CLI still works when the first manager is down), else
 * 127.0.0.1:2375.
 */
import type { Command } from 'commander';
import { ApiClient, normalizeHost } from './client.js';
import { apiAddrs, DEFAULT_CLUSTER_DIR, readCluster } from './local/cluster-file.js';

export const DEFAULT_API = '127.0.0.1:2375';

export function apiHosts(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  if (flag) return [normalizeHost(flag)];
  if (env.SHOAL_HOST) return [normalizeHost(env.SHOAL_HOST)];
  const local = readCluster(`${cwd}/${DEFAULT_CLUSTER_DIR}`);
  const addrs = local ? apiAddrs(local) : [];
  return addrs.length > 0 ? addrs : [DEFAULT_API];
}

/** The client for a command's action, from the global -H/--host. */
export function clientFor(cmd: Command): ApiClient {
  const { host } = cmd.optsWithGlobals<{ host?: string }>();
  return new ApiClient({ hosts: apiHosts(host) });
}
