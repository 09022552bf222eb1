/**
 * Waiting for a local cluster's node processes: each manager's API answering,
 * then every node Ready and every manager reachable (GET /nodes). A node
 * process that exits while we wait fails the wait at once, quoting the end
 * of its log — the usual cause is an address already in use.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Node } from '../../model/index.js';
import { ApiClient, type ClientTls } from '../client.js';
import { readClientTls } from '../tls.js';
import { CliError } from '../errors.js';
import { processAlive } from './processes.js';
import { localAdminDir, nodeLogFile, nodeOutFile, type LocalCluster, type LocalNode } from './cluster-file.js';
import { parseRecord } from '../../util/log/pretty.js';

/**
 * Why a node that exited did: the last error its process printed (node.out:
 * a bad flag, an address in use), else the last error or warning record of
 * its log; '' when neither says.
 */
export function exitReason(dir: string, n: Pick<LocalNode, 'name'>): string {
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8').trimEnd().split('\n').reverse();
    } catch {
      return [];
    }
  };
  const printed = read(nodeOutFile(dir, n)).find((l) => /error|cannot|fail|refus/i.test(l));
  if (printed) return printed.slice(0, 300);
  for (const l of read(nodeLogFile(dir, n))) {
    const r = parseRecord(l);
    if (r && (r.level === 'error' || r.level === 'fatal' || r.level === 'warn')) return r.msg.slice(0, 300);
  }
  return '';
}

function rel(p: string): string {
  return path.relative(process.cwd(), p) || p;
}

/**
 * Throws when a node process we started has died. Liveness only, not
 * isNodeProcess's command-line check: between fork and exec a child still
 * shows the CLI's own command line (a window a cold machine stretches, and
 * `nsenter` adds an exec), which read as "exited". These pids were started
 * seconds ago by this process, so none can have been recycled.
 */
export function checkAlive(dir: string, nodes: LocalNode[]): void {
  for (const n of nodes) {
    if (!n.pid || !processAlive(n.pid)) {
      const why = exitReason(dir, n);
      throw new CliError(`${n.name} exited${why ? `: ${why}` : ''} (see ${rel(nodeOutFile(dir, n))} and ${rel(nodeLogFile(dir, n))})`);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` every 50 ms until it returns a value, the deadline passes (then `what` fails), or a node dies. */
export async function until<T>(dir: string, nodes: LocalNode[], deadline: number, what: () => string, probe: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    checkAlive(dir, nodes);
    if (Date.now() > deadline) throw new CliError(what());
    await sleep(50);
  }
}

export function quickClient(addr: string, tls?: ClientTls): ApiClient {
  return new ApiClient({ hosts: [addr], ...(tls ? { tls } : {}), connectTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
}

/** A quick client of a local cluster's manager at `addr`, with the cluster's admin bundle; null until `shoal init` has written it. */
export function localClient(dir: string, c: LocalCluster, addr: string): ApiClient | null {
  const tls = readClientTls(localAdminDir(dir, c));
  return tls ? quickClient(addr, tls) : null;
}

/** True when something accepts TCP connections at host:port. */
export function listening(addr: string, timeoutMs = 300): Promise<boolean> {
  const i = addr.lastIndexOf(':');
  return new Promise((resolve) => {
    const s = net.connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)) });
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/** Why the cluster is not ready yet, for the timeout message. */
function notReady(c: LocalCluster, nodes: Node[] | undefined): string {
  if (!nodes) return 'no manager API answered';
  const byName = new Map(nodes.map((n) => [n.Description?.Hostname, n]));
  const missing = c.nodes.filter((n) => byName.get(n.name)?.Status?.State !== 'ready').map((n) => `${n.name} is ${byName.get(n.name)?.Status?.State ?? 'not registered'}`);
  const unreachable = c.nodes
    .filter((n) => n.role === 'manager')
    .filter((n) => {
      const m = byName.get(n.name)?.ManagerStatus;
      return !m || (!m.Leader && m.Reachability !== 'reachable');
    })
    .map((n) => `manager ${n.name} is not reachable yet`);
  return [...missing, ...unreachable].join(', ') || 'waiting for the managers';
}

/** Every node Ready, every manager a reachable Raft member, every manager API answering. */
export async function waitClusterReady(dir: string, c: LocalCluster, deadline: number, timeoutLabel: string): Promise<Node[]> {
  let last: Node[] | undefined;
  const managers = c.nodes.filter((n) => n.apiAddr);
  return until(dir, c.nodes, deadline, () => `the cluster was not ready within ${timeoutLabel}: ${notReady(c, last)} (logs in ${rel(dir)}/<node>/node.log)`, async () => {
    for (const m of managers) {
      const nodes = await localClient(dir, c, m.apiAddr!)
        ?.get<Node[]>('/nodes')
        .catch(() => undefined);
      if (!nodes) continue;
      last = nodes;
      const byName = new Map(nodes.map((n) => [n.Description?.Hostname, n]));
      const ready = c.nodes.every((n) => byName.get(n.name)?.Status?.State === 'ready');
      const reachable = managers.every((n) => {
        const ms = byName.get(n.name)?.ManagerStatus;
        return ms && (ms.Leader || ms.Reachability === 'reachable');
      });
      if (!ready || !reachable) return undefined;
      const apis = await Promise.all(managers.map((n) => localClient(dir, c, n.apiAddr!)?.call('GET', '/_ping').then(() => true, () => false) ?? false));
      return apis.every(Boolean) ? nodes : undefined;
    }
    return undefined;
  });
}
