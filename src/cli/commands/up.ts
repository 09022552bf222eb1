/**
 * `shoal up`: a local cluster of background node processes — managers on
 * P.(10+i):4242 (API :2375), workers on P.(20+i):4242 — with data and logs
 * under ./.shoal/<node>/ and a cluster.json recording them. Two layouts:
 * as root with iproute2, nftables and nsenter, each node runs in a network
 * namespace of its own on a free 10.218.x.0/24 (local/netns.ts), so overlay
 * networks and published ports work; otherwise (or with --no-netns, or an
 * --ip-prefix of 127.a.b) all nodes share this machine's network on 127.0.0.x,
 * where nodes run no overlay data plane.
 * The first manager runs `shoal init`, the rest `shoal join` with the token
 * read from its API. Run again, it reports a running cluster, or restarts
 * the stopped nodes of a recorded one with `shoal run`.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Cluster, Node } from '../../model/index.js';
import { CliError } from '../errors.js';
import { NODE_COLUMNS, nodeRow, sortNodes } from '../format/nodes.js';
import { renderList } from '../format/table.js';
import { apiAddrs, clusterFilePath, DEFAULT_CLUSTER_DIR, localAdminDir, nodeApiSocket, nodeDataDir, nodeLogFile, nodeOutFile, readCluster, writeCluster, type LocalCluster, type LocalNode } from '../local/cluster-file.js';
import { claimBridge, ensureNetns, layoutFor, netnsUnavailable, nodeNetnsNames, nsenterWrap, pickPrefix, prefixFree, removeNetns, validPrefix } from '../local/netns.js';
import { isNodeProcess, spawnDetached, stopProcess } from '../local/processes.js';
import { listening, localClient, until, waitClusterReady } from '../local/readiness.js';
import { parseCount, parseDuration } from '../units.js';
import { out } from './common.js';
import { flagValue, RUNTIME_CHOICES } from './service-create-flags.js';
import { Option } from 'commander';
import { OCI_RUNTIME_NAMES } from '../../model/runtime-names.js';
import { LOG_LEVELS } from '../../util/log/interface.js';

interface UpFlags {
  managers: string;
  workers: string;
  runtime?: string;
  ociRuntime?: string;
  logLevel?: string;
  dir: string;
  ipPrefix?: string;
  netns: boolean;
  timeout: string;
}

const CLUSTER_PORT = 4242;
const API_PORT = 2375;
/** dockerd's conventional --metrics-addr port. */
const METRICS_PORT = 9323;
const MAX_EACH = 9;

/** The node layout for a fresh cluster. */
export function plan(managers: number, workers: number, ipPrefix: string): LocalNode[] {
  const nodes: LocalNode[] = [];
  for (let i = 1; i <= managers; i++) nodes.push({ name: `manager${i}`, role: 'manager', addr: `${ipPrefix}.${10 + i}:${CLUSTER_PORT}`, apiAddr: `${ipPrefix}.${10 + i}:${API_PORT}`, metricsAddr: `${ipPrefix}.${10 + i}:${METRICS_PORT}`, pid: null });
  for (let i = 1; i <= workers; i++) nodes.push({ name: `worker${i}`, role: 'worker', addr: `${ipPrefix}.${20 + i}:${CLUSTER_PORT}`, metricsAddr: `${ipPrefix}.${20 + i}:${METRICS_PORT}`, pid: null });
  return nodes;
}

function runtimeArgs(c: LocalCluster): string[] {
  // Passed only when asked for, so `shoal up` works with node processes that predate the flag.
  return [...(c.runtime ? ['--runtime', c.runtime] : []), ...(c.ociRuntime ? ['--oci-runtime', c.ociRuntime] : []), ...(c.logLevel ? ['--log-level', c.logLevel] : [])];
}

function start(dir: string, c: LocalCluster, n: LocalNode, args: string[]): void {
  // Not saved in the node's identity (like dockerd's flag): every start passes it.
  const metrics = n.metricsAddr ? ['--metrics-addr', n.metricsAddr] : [];
  // The node writes its own rotated JSON log; its stdout and stderr (a banner, or why it cannot start) go beside it.
  const log = ['--log-file', nodeLogFile(dir, n)];
  n.pid = spawnDetached([...args, ...metrics, ...log, ...runtimeArgs(c)], nodeOutFile(dir, n), n.netns ? nsenterWrap(n) : []);
  writeCluster(dir, c);
}

function commonArgs(dir: string, n: LocalNode): string[] {
  return ['--data-dir', nodeDataDir(dir, n), '--advertise-addr', n.addr, ...(n.apiAddr ? ['--api-addr', n.apiAddr] : []), '--hostname', n.name];
}

function counts(c: LocalCluster): string {
  const m = c.nodes.filter((n) => n.role === 'manager').length;
  const w = c.nodes.length - m;
  return `${m} manager${m === 1 ? '' : 's'}, ${w} worker${w === 1 ? '' : 's'}`;
}

function relDir(dir: string): string {
  return path.relative(process.cwd(), dir) || '.';
}

/**
 * What a node started without --runtime uses: src/node/daemon.ts's default
 * (not exported from there). Process, because it needs nothing: no root, no
 * runc, no image store, no Docker Engine — so `shoal up` works on any machine.
 */
export const NODE_DEFAULT_RUNTIME = 'process';

/**
 * Which runtime runs a service's tasks when the service names none, and
 * why. It is worth saying: it decides what `service create IMAGE …` means
 * — a program on the host (process) or an image (oci, docker) — and the
 * default used to be invisible until a task failed.
 */
export function runtimeNote(c: Pick<LocalCluster, 'runtime'>, nodes: readonly { Description?: { Runtimes?: string[] } }[]): string {
  const def = c.runtime ?? NODE_DEFAULT_RUNTIME;
  const why = c.runtime ? `chosen with \`shoal up --runtime ${c.runtime}\`` : 'the default: it needs no root, runc, images or Docker Engine, so it works on any machine';
  const meaning =
    def === 'process'
      ? 'tasks are host processes and IMAGE is the program: `shoal service create sleep 300` runs `sleep 300`'
      : `IMAGE is an image${def === 'oci' ? ' from the node-local store (`shoal image import`)' : " in the nodes' Docker Engine"}`;
  const others = RUNTIME_CHOICES.filter((r) => r !== def);
  // The nodes report the runtimes they can run (Description.Runtimes); older nodes may not.
  const reported = nodes.filter((n) => n.Description?.Runtimes);
  const where =
    reported.length > 0
      ? ` (available: ${others.map((r) => `${r} on ${reported.filter((n) => n.Description!.Runtimes!.includes(r)).length}/${reported.length} nodes`).join(', ')})`
      : '';
  return `Default task runtime: ${def} (${why});\n  ${meaning}.\n  Override per service with --runtime ${others.join('|')}${where}.\n`;
}

/** One line: which layout the cluster has, and what it means for networks and published ports. */
export function layoutLine(c: Pick<LocalCluster, 'netns' | 'nodes'>, loopbackWhy?: string): string {
  if (c.netns) {
    const p = c.netns.prefix;
    return `Layout: network namespaces, each node a machine of its own on ${p}.0/24 (bridge ${c.netns.bridge}, this host ${p}.254): overlay networks work and published ports answer at http://<node address>:<port> from this host.\n`;
  }
  const first = c.nodes[0]?.addr ?? '127.0.0.11:4242';
  const p = first.slice(0, first.lastIndexOf('.'));
  return `Layout: loopback, every node on ${p}.x in this machine's network${loopbackWhy ? ` (${loopbackWhy})` : ''}: overlay networks and published ports need root with iproute2, nftables and nsenter (network namespaces), so tasks that join a network are rejected here.\n`;
}

function usage(dir: string, c: LocalCluster, nodes: Node[], selfId: string | undefined, loopbackWhy?: string): string {
  const api = apiAddrs(c)[0]!;
  const here = path.resolve(dir) === path.resolve(DEFAULT_CLUSTER_DIR);
  return (
    `\n${renderList(sortNodes(nodes).map((n) => nodeRow(n, selfId)), NODE_COLUMNS, {})}\n` +
    layoutLine(c, loopbackWhy) +
    `Control API: https://${api} (client certificate: ${relDir(localAdminDir(dir, c))}/cert.pem; the shoal CLI here finds it),\n` +
    `  and unix://${nodeApiSocket(dir, c.nodes[0]!)}\n` +
    metricsLine(c) +
    `Logs: ${relDir(dir)}/<node>/node.log (JSON records, rotated at 10 MiB × 5); \`shoal node logs <node>\` reads any node's through the API\n` +
    runtimeNote(c, nodes) +
    '\n' +
    `Next:\n` +
    hints([
      ['shoal node ls', ''],
      ['shoal service create --name web --replicas 3 --reserve-memory 64M --runtime process -- sleep 3600', ''],
      ['shoal service ps web', ''],
      [`eval "$(npx shoal env${here ? '' : ` --dir ${relDir(dir)}`})"`, 'SHOAL_HOST, DOCKER_HOST and the TLS certificate path, for the docker CLI and other directories'],
      [`shoal down${here ? '' : ` --dir ${relDir(dir)}`}`, `stop it; --purge also deletes ${relDir(dir)}`],
    ])
  );
}

/** Where Prometheus can scrape each node, when the cluster's nodes serve metrics. */
function metricsLine(c: LocalCluster): string {
  const addrs = c.nodes.filter((n) => n.metricsAddr).map((n) => `http://${n.metricsAddr}/metrics`);
  return addrs.length > 0 ? `Metrics (Prometheus, no auth): ${addrs.join(' ')}\n` : '';
}

function hints(lines: [string, string][]): string {
  const w = Math.max(...lines.filter(([, c]) => c).map(([l]) => l.length)) + 4;
  return lines.map(([l, c]) => `  ${c ? `${l.padEnd(w)}# ${c}` : l}\n`).join('');
}

async function selfId(dir: string, c: LocalCluster): Promise<string | undefined> {
  const info = await localClient(dir, c, apiAddrs(c)[0]!)
    ?.get<{ Swarm?: { NodeID?: string } }>('/info')
    .catch(() => undefined);
  return info?.Swarm?.NodeID;
}

/** Starts a new cluster; resolves once every node is Ready. */
async function create(dir: string, c: LocalCluster, deadline: number, timeoutLabel: string): Promise<Node[]> {
  if (c.netns) {
    try {
      await claimBridge(c.netns);
    } catch (err) {
      rmSync(clusterFilePath(dir), { force: true });
      throw err;
    }
    // Recorded before the rest is made: `shoal down` removes it even if we are interrupted.
    writeCluster(dir, c);
    try {
      await ensureNetns(c);
      return await bootstrap(dir, c, deadline, timeoutLabel);
    } catch (err) {
      await abandon(dir, c);
      throw err;
    }
  }
  const busy = (await Promise.all(c.nodes.flatMap((n) => [n.addr, ...(n.apiAddr ? [n.apiAddr] : []), ...(n.metricsAddr ? [n.metricsAddr] : [])]).map(async (a) => ((await listening(a)) ? a : null)))).filter(Boolean);
  if (busy.length > 0) {
    throw new CliError(`${busy.join(', ')} ${busy.length > 1 ? 'are' : 'is'} already in use (another Shoal cluster? \`shoal down\` in its directory, or pick other addresses with --ip-prefix)`);
  }
  writeCluster(dir, c);
  try {
    return await bootstrap(dir, c, deadline, timeoutLabel);
  } catch (err) {
    await abandon(dir, c);
    throw err;
  }
}

/**
 * A cluster that failed to come up is of no use, and its half-made data
 * would make the next `shoal up` fail in new ways: stop what was started,
 * delete the data and the record, keep the logs the error points at.
 */
async function abandon(dir: string, c: LocalCluster): Promise<void> {
  await Promise.all(c.nodes.map((n) => (isNodeProcess(n.pid, nodeDataDir(dir, n)) ? stopProcess(n.pid!, 3_000) : undefined)));
  if (c.netns) await removeNetns(c).catch(() => {}); // the first error is the one to report; `shoal down` finds no record after this
  for (const n of c.nodes) rmSync(nodeDataDir(dir, n), { recursive: true, force: true });
  rmSync(clusterFilePath(dir), { force: true });
}

async function bootstrap(dir: string, c: LocalCluster, deadline: number, timeoutLabel: string): Promise<Node[]> {
  const [first, ...others] = c.nodes as [LocalNode, ...LocalNode[]];
  start(dir, c, first, ['init', ...commonArgs(dir, first)]);
  const tokens = await until(dir, [first], deadline, () => `${first.name} did not start its API within ${timeoutLabel}`, async () => {
    // The admin bundle exists once `shoal init` has made the CA (before its API listens).
    const s = await localClient(dir, c, first.apiAddr!)?.get<Cluster>('/swarm');
    return s?.JoinTokens?.Worker ? s.JoinTokens : undefined;
  });
  for (const n of others) start(dir, c, n, ['join', '--token', n.role === 'manager' ? tokens.Manager : tokens.Worker, ...commonArgs(dir, n), first.addr]);
  return waitClusterReady(dir, c, deadline, timeoutLabel);
}

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start a local cluster of background node processes (data and logs in ./.shoal)')
    .option('--managers <n>', `number of managers (1-${MAX_EACH})`, '3')
    .option('--workers <n>', `number of workers (0-${MAX_EACH})`, '2')
    .addOption(new Option('--runtime <runtime>', 'default task runtime of the nodes').choices(RUNTIME_CHOICES))
    .addOption(new Option('--oci-runtime <runc|crun>', 'the OCI runtime binary the nodes\' oci runtime uses (default runc)').choices(OCI_RUNTIME_NAMES))
    .option('--dir <dir>', 'where the cluster keeps its data, logs and cluster.json', DEFAULT_CLUSTER_DIR)
    .option('--ip-prefix <a.b.c>', "first three octets of the nodes' addresses: 127.a.b (loopback layout) or 10.a.b (network namespaces, root); default a free 10.218.x when root, else 127.0.0")
    .option('--no-netns', 'keep every node in this machine\'s network on loopback addresses, even as root (no overlay networks or published ports)')
    .option('--timeout <duration>', 'how long to wait for every node to be Ready', '60s')
    .addOption(new Option('--log-level <level>', 'the nodes\' log level (default info); their logs are <dir>/<node>/node.log, JSON, rotated at 10 MiB × 5').choices(LOG_LEVELS))
    .action(async (o: UpFlags, cmd: Command) => {
      const t0 = Date.now();
      const managers = flagValue('--managers', o.managers, parseCount);
      const workers = flagValue('--workers', o.workers, parseCount);
      if (managers < 1 || managers > MAX_EACH) throw new CliError(`--managers must be 1-${MAX_EACH}, got ${managers}`);
      if (workers > MAX_EACH) throw new CliError(`--workers must be 0-${MAX_EACH}, got ${workers}`);
      const loopbackPrefix = o.ipPrefix !== undefined && /^127\.\d{1,3}\.\d{1,3}$/.test(o.ipPrefix);
      if (o.ipPrefix !== undefined && !loopbackPrefix && !validPrefix(o.ipPrefix)) {
        throw new CliError(`--ip-prefix must be the first three octets of a loopback address (127.a.b) or of a 10.a.b.0/24 for network namespaces, not ${JSON.stringify(o.ipPrefix)}`);
      }
      const timeoutMs = flagValue('--timeout', o.timeout, parseDuration) / 1e6;
      const deadline = t0 + timeoutMs;
      const dir = path.resolve(o.dir);
      const rd = relDir(dir);

      const existing = readCluster(dir);
      if (existing?.netns) {
        const why = netnsUnavailable();
        if (why) throw new CliError(`the cluster in ${rd} runs its nodes in network namespaces, but ${why}: run \`shoal up\` as root, or \`shoal down --purge\` (as root) and start over`);
      }
      if (existing) {
        const flagName = { managers: '--managers', workers: '--workers', runtime: '--runtime', ociRuntime: '--oci-runtime', ipPrefix: '--ip-prefix', netns: '--no-netns', logLevel: '--log-level' } as const;
        const given = (Object.keys(flagName) as (keyof typeof flagName)[]).filter((k) => cmd.getOptionValueSource(k) === 'cli');
        if (given.length > 0) process.stderr.write(`shoal: ${rd} already holds a cluster (${counts(existing)}): ignoring ${given.map((k) => flagName[k]).join(', ')} (\`shoal down --purge\` to start over)\n`);
        const dead = existing.nodes.filter((n) => !isNodeProcess(n.pid, nodeDataDir(dir, n)));
        if (dead.length === 0) {
          const nodes = await waitClusterReady(dir, existing, deadline, o.timeout);
          out(`A Shoal cluster is already running in ${rd}: ${counts(existing)}.\n`);
          out(usage(dir, existing, nodes, await selfId(dir, existing)));
          return;
        }
        out(`Restarting ${dead.map((n) => n.name).join(', ')} of the cluster in ${rd} …\n`);
        if (existing.netns) await ensureNetns(existing); // `shoal down` removed them, or the host rebooted
        for (const n of dead) start(dir, existing, n, ['run', '--data-dir', nodeDataDir(dir, n)]);
        const nodes = await waitClusterReady(dir, existing, deadline, o.timeout);
        out(`Shoal cluster up in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${counts(existing)} (data and logs in ${rd}).\n`);
        out(usage(dir, existing, nodes, await selfId(dir, existing)));
        return;
      }

      // The layout: network namespaces when this machine can have them and nothing asks for loopback.
      const loopbackWhy = !o.netns ? '--no-netns' : loopbackPrefix ? `--ip-prefix ${o.ipPrefix} is a loopback prefix` : netnsUnavailable();
      if (loopbackWhy && o.ipPrefix !== undefined && !loopbackPrefix) {
        throw new CliError(`--ip-prefix ${o.ipPrefix} is for nodes in network namespaces, but ${loopbackWhy === '--no-netns' ? '--no-netns asks for loopback' : loopbackWhy}: give a 127.a.b prefix or none`);
      }
      let prefix: string;
      if (loopbackWhy) prefix = o.ipPrefix ?? '127.0.0';
      else if (o.ipPrefix !== undefined) {
        if (!(await prefixFree(o.ipPrefix))) throw new CliError(`${o.ipPrefix}.0/24 overlaps a network this host already has (see \`ip route\`): pick another --ip-prefix, or leave it out`);
        prefix = o.ipPrefix;
      } else prefix = await pickPrefix(dir);
      const c: LocalCluster = { version: 1, createdAt: new Date().toISOString(), ...(o.runtime ? { runtime: o.runtime } : {}), ...(o.ociRuntime ? { ociRuntime: o.ociRuntime } : {}), ...(o.logLevel ? { logLevel: o.logLevel } : {}), nodes: plan(managers, workers, prefix) };
      if (!loopbackWhy) {
        c.netns = layoutFor(prefix);
        c.nodes.forEach((n, i) => Object.assign(n, nodeNetnsNames(c.netns!, n, i + 1)));
      }
      out(`Starting ${counts(c)} in ${rd} …\n`);
      const nodes = await create(dir, c, deadline, o.timeout);
      out(`Shoal cluster up in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${counts(c)} (data and logs in ${rd}).\n`);
      out(usage(dir, c, nodes, await selfId(dir, c), loopbackWhy ?? undefined));
    });
}
