/**
 * `.shoal/cluster.json`: what `shoal up` started — each node's name, role,
 * addresses and pid, and the network namespaces, veths and bridge made for
 * them — so `shoal down`, `shoal env`, `shoal leave` and every
 * API command (their default --host) find the local cluster again. Paths
 * inside are relative to the cluster dir, so the dir can be moved.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CliError } from '../errors.js';
import { apiSocketPath } from '../../node/api-socket-path.js';

/** The network-namespace layout of a cluster `shoal up` made as root (local/netns.ts builds and removes it). */
export interface NetnsLayout {
  /** The first three octets of the /24: nodes are .11… and .21…, the host .254. */
  prefix: string;
  /** The bridge in the host namespace. */
  bridge: string;
}

export const DEFAULT_CLUSTER_DIR = '.shoal';
export const CLUSTER_FILE = 'cluster.json';

export interface LocalNode {
  /** Also the node's hostname in `shoal node ls`: manager1, worker2, … */
  name: string;
  /** The role it was started with (a later promote/demote is the API's business). */
  role: 'manager' | 'worker';
  /** Cluster (TCP) and gossip (UDP) address, host:port. */
  addr: string;
  /** The control API's TCP address (TLS with client certificates); managers only. */
  apiAddr?: string;
  /** Where the node serves Prometheus metrics (GET /metrics, plain HTTP): host:9323, dockerd's metrics port. Absent in clusters made before it. */
  metricsAddr?: string;
  /** Pid of the last process started for it; null when `shoal down` stopped it. */
  pid: number | null;
  /** Netns layout: the node's network namespace (/run/netns/NAME) and the host end of its veth. */
  netns?: string;
  veth?: string;
}

export interface LocalCluster {
  version: 1;
  createdAt: string;
  /** The runtime passed to `shoal up --runtime`, if any. */
  runtime?: string;
  /** The OCI runtime binary passed to `shoal up --oci-runtime` (runc | crun), if any. */
  ociRuntime?: string;
  /** The nodes' --log-level, passed to `shoal up --log-level`, if any. */
  logLevel?: string;
  /** Set when the nodes run in network namespaces of their own (netns.ts); absent: the loopback layout. */
  netns?: NetnsLayout;
  nodes: LocalNode[];
}

export function clusterFilePath(dir: string): string {
  return path.join(dir, CLUSTER_FILE);
}

/** A node's data dir, log file and process output, inside the cluster dir: one dir per node. */
export function nodeDataDir(dir: string, n: Pick<LocalNode, 'name'>): string {
  return path.join(dir, n.name, 'data');
}

/** The node's JSON records (`--log-file`), rotated to node.log.1 … node.log.4 at 10 MiB. */
export function nodeLogFile(dir: string, n: Pick<LocalNode, 'name'>): string {
  return path.join(dir, n.name, 'node.log');
}

/** What the node process printed itself: its banner, or the one line saying why it could not start. */
export function nodeOutFile(dir: string, n: Pick<LocalNode, 'name'>): string {
  return path.join(dir, n.name, 'node.out');
}

/** The admin client bundle (ca.pem, cert.pem, key.pem) the founding manager's `shoal init` wrote. */
export function localAdminDir(dir: string, c: LocalCluster): string {
  const founder = c.nodes.find((n) => n.role === 'manager') ?? c.nodes[0]!;
  return path.join(nodeDataDir(dir, founder), 'admin');
}

/** A node's API unix socket (managers). */
export function nodeApiSocket(dir: string, n: Pick<LocalNode, 'name'>): string {
  return apiSocketPath(nodeDataDir(dir, n));
}

/** The managers' API addresses, the first-started first. */
export function apiAddrs(c: LocalCluster): string[] {
  return c.nodes.filter((n) => n.apiAddr).map((n) => n.apiAddr!);
}

export function readCluster(dir: string): LocalCluster | null {
  const p = clusterFilePath(dir);
  if (!existsSync(p)) return null;
  let v: LocalCluster;
  try {
    v = JSON.parse(readFileSync(p, 'utf8')) as LocalCluster;
  } catch (err) {
    throw new CliError(`${p} is not valid JSON (${(err as Error).message}): remove ${dir} or fix the file`);
  }
  if (v?.version !== 1 || !Array.isArray(v.nodes)) throw new CliError(`${p} is not a Shoal cluster file: remove ${dir} or fix the file`);
  return v;
}

/** Written whole to a temp file and renamed: a crash never leaves half a record of running processes. */
export function writeCluster(dir: string, c: LocalCluster): void {
  mkdirSync(dir, { recursive: true });
  const p = clusterFilePath(dir);
  writeFileSync(`${p}.tmp`, JSON.stringify(c, null, 2) + '\n');
  renameSync(`${p}.tmp`, p);
}
