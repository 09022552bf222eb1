import path from 'node:path';
import type { Command } from 'commander';
import { Daemon, DaemonError, type DaemonOptions } from '../../node/daemon.js';
import type { DaemonHooksFactory } from '../../node/hooks.js';
import { OCI_RUNTIME_NAMES, RUNTIME_NAMES, type OciRuntimeName, type RuntimeName } from '../../model/runtime-names.js';
import { parseToken } from '../../manager/membership/tokens.js';
import { CliError } from '../errors.js';
import { defaultDataDir } from '../host.js';
import { adminBundleDir } from '../../node/admin-bundle.js';
import { createNodeLog, type NodeLog } from '../../util/log/node-logger.js';
import { isLogLevel, LOG_LEVELS } from '../../util/log/interface.js';
import type { NodeLogOptions } from '../../util/log/options.js';
import { parseBytes, parseCount } from '../units.js';

/**
 * `shoal init`, `shoal join`, `shoal run`: start this machine's node process
 * in the foreground (like `nomad agent`); `shoal up` runs several of them in
 * the background. The process stops cleanly on SIGINT/SIGTERM.
 */


/** Flags of every node command: where and how much the node logs. */
interface LogFlags {
  logLevel?: string;
  logFile?: string;
  logMaxSize?: string;
  logMaxFiles?: string;
  logFormat?: string;
}

function flagValue<T>(flag: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    throw new CliError(`${flag}: ${(err as Error).message}`);
  }
}

function logOptions(f: LogFlags): Partial<NodeLogOptions> {
  const o: Partial<NodeLogOptions> = {};
  if (f.logLevel !== undefined) {
    if (!isLogLevel(f.logLevel)) throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(f.logLevel)}`);
    o.level = f.logLevel;
  }
  if (f.logFormat !== undefined) {
    if (!['auto', 'json', 'pretty'].includes(f.logFormat)) throw new CliError(`--log-format must be auto, json or pretty, got ${JSON.stringify(f.logFormat)}`);
    o.format = f.logFormat as NodeLogOptions['format'];
  }
  if (f.logFile !== undefined) o.file = path.resolve(f.logFile);
  if (f.logMaxSize !== undefined) o.maxFileBytes = flagValue('--log-max-size', () => parseBytes(f.logMaxSize!));
  if (f.logMaxFiles !== undefined) o.maxFiles = flagValue('--log-max-files', () => parseCount(f.logMaxFiles!));
  if (o.maxFileBytes !== undefined && o.maxFileBytes < 4096) throw new CliError(`--log-max-size must be at least 4K, got ${JSON.stringify(f.logMaxSize)}`);
  if (o.maxFiles !== undefined && (o.maxFiles < 1 || o.maxFiles > 100)) throw new CliError(`--log-max-files must be from 1 to 100, got ${JSON.stringify(f.logMaxFiles)}`);
  return o;
}

function withLogFlags(cmd: Command): Command {
  return cmd
    .option('--log-level <level>', `records below this level are not written: ${LOG_LEVELS.join(', ')} (default info)`)
    .option('--log-file <path>', 'write JSON records to this file, rotated by size (default: stderr)')
    .option('--log-max-size <size>', 'rotate the log file at this size, e.g. 10M (default 10M)')
    .option('--log-max-files <n>', 'log files kept, the live one included (default 5)')
    .option('--log-format <auto|json|pretty>', 'stderr records as JSON or one readable line each; auto: pretty on a terminal (default auto)');
}

/**
 * The process's logger; a last-resort handler logs what nothing caught, so
 * that no exception or rejection ends a node (and the record says where).
 */
function startLogging(f: LogFlags): NodeLog {
  const opts = logOptions(f);
  const nodeLog = flagValue('--log-file', () => createNodeLog(opts));
  const log = nodeLog.log.child({ component: 'process' });
  process.on('uncaughtException', (err) => log.error({ err }, `uncaught exception: ${err.message}; the node keeps running`));
  process.on('unhandledRejection', (err) => log.error({ err }, `unhandled rejection: ${(err as Error)?.message ?? String(err)}; the node keeps running`));
  return nodeLog;
}

function checkAddr(v: string, flag: string): string {
  if (!/^[^:\s]+:\d{1,5}$/.test(v) || Number(v.split(':').pop()) > 65535) throw new CliError(`${flag} must be host:port, got ${JSON.stringify(v)}`);
  return v;
}

async function runUntilSignalled(opts: DaemonOptions, f: LogFlags, onReady: (d: Daemon) => Promise<void>, hooks?: DaemonHooksFactory): Promise<void> {
  const nodeLog = startLogging(f);
  let daemon: Daemon;
  try {
    daemon = await Daemon.start({ ...opts, log: nodeLog.log, logReader: (q, onLine, signal) => nodeLog.sink.read(q, onLine, signal), logRecords: () => nodeLog.sink.metrics.byLevel, ...(hooks ? { hooks } : {}) });
  } catch (err) {
    if (err instanceof DaemonError) throw new CliError(err.message);
    throw err;
  }
  await onReady(daemon);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void daemon.stop().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Prints the join commands once the founding leader has written the cluster object. */
async function printJoinCommands(d: Daemon): Promise<void> {
  const m = d.manager;
  if (!m) return;
  const deadline = Date.now() + 30_000;
  while (m.store.list('cluster').length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const c = m.store.list('cluster')[0];
  if (!c) return void process.stderr.write('shoal: the cluster did not bootstrap within 30 s\n');
  const a = d.identity.advertiseAddr;
  process.stdout.write(
    `Swarm initialized: current node (${d.identity.nodeId}) is now a manager.\n\n` +
      `To add a worker to this swarm, run the following command:\n\n    shoal join --token ${c.JoinTokens.Worker} ${a}\n\n` +
      `To add a manager to this swarm, run the following command:\n\n    shoal join --token ${c.JoinTokens.Manager} ${a}\n\n` +
      apiLines(d),
  );
}

/** Where this manager serves the control API, and how a client reaches it. */
function apiLines(d: Daemon): string {
  const sock = d.apiSocket;
  const admin = path.resolve(adminBundleDir(d.dataDir));
  const tcp = d.identity.apiAddr
    ? `Control API over TLS: ${d.identity.apiAddr}, for holders of a client certificate of this cluster:\n` +
      `    export DOCKER_HOST=tcp://${d.identity.apiAddr} DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH=${admin}\n`
    : `The API is not on TCP (start with --api-addr to serve it there, over TLS with client certificates).\n`;
  return `Control API: unix://${sock} (this machine's root only)\n` + tcp;
}

interface CommonFlags extends LogFlags {
  dataDir: string;
  advertiseAddr?: string;
  apiAddr?: string;
  apiSocket?: string;
  metricsAddr?: string;
  hostname?: string;
  runtime?: string;
  ociRuntime?: string;
}

function common(cmd: Command): Command {
  return withLogFlags(cmd)
    .option('--data-dir <dir>', 'where this node keeps its state', defaultDataDir())
    .option('--advertise-addr <host:port>', 'cluster (TCP) and gossip (UDP) address other nodes reach this one at', undefined)
    .option('--api-addr <host:port>', 'also serve the control API on TCP, over TLS with client certificates of the cluster CA (managers; default: unix socket only)', undefined)
    .option('--metrics-addr <host:port>', 'also serve Prometheus metrics (GET /metrics) on plain HTTP here, on any node; no auth, no secrets in it (managers serve /metrics on the API too)', undefined)
    .option('--api-socket <path>', 'the control API unix socket (managers; default <data-dir>/api.sock)', undefined)
    .option('--hostname <name>', 'node hostname shown in `shoal node ls`')
    .option('--runtime <name>', 'default task runtime: process, oci (runc/crun) or docker', undefined)
    .option('--oci-runtime <runc|crun>', 'the OCI runtime binary the oci runtime runs tasks with (default runc)', undefined);
}

function checkRuntime(v: string | undefined): RuntimeName | undefined {
  if (v === undefined) return undefined;
  if (!RUNTIME_NAMES.includes(v as RuntimeName)) throw new CliError(`--runtime must be one of ${RUNTIME_NAMES.join(', ')}, got ${JSON.stringify(v)}`);
  return v as RuntimeName;
}

export function checkOciRuntime(v: string | undefined): OciRuntimeName | undefined {
  if (v === undefined) return undefined;
  if (!(OCI_RUNTIME_NAMES as readonly string[]).includes(v)) throw new CliError(`--oci-runtime must be one of ${OCI_RUNTIME_NAMES.join(', ')}, got ${JSON.stringify(v)}`);
  return v as OciRuntimeName;
}

export function toOpts(f: CommonFlags): DaemonOptions {
  return {
    dataDir: f.dataDir,
    ...(f.advertiseAddr ? { advertiseAddr: checkAddr(f.advertiseAddr, '--advertise-addr') } : {}),
    ...(f.apiAddr ? { apiAddr: checkAddr(f.apiAddr, '--api-addr') } : {}),
    ...(f.apiSocket ? { apiSocket: path.resolve(f.apiSocket) } : {}),
    ...(f.metricsAddr ? { metricsAddr: checkAddr(f.metricsAddr, '--metrics-addr') } : {}),
    ...(f.hostname ? { hostname: f.hostname } : {}),
    ...(f.runtime ? { runtime: checkRuntime(f.runtime)! } : {}),
    ...(f.ociRuntime !== undefined ? { ociRuntime: checkOciRuntime(f.ociRuntime)! } : {}),
  };
}

/** `hooks`: a test composition root's daemon hooks (the chaos harness's CLI); none in the product. */
export function registerNodeProcess(program: Command, hooks?: DaemonHooksFactory): void {
  common(program.command('init').description('create a new cluster with this node as its first manager (runs in the foreground)')).action(async (f: CommonFlags) => {
    await runUntilSignalled({ ...toOpts(f), init: true }, f, printJoinCommands, hooks);
  });

  common(program.command('join').description('join a cluster as a worker or manager, as the token says (runs in the foreground)'))
    .requiredOption('--token <token>', 'join token from `shoal join-token worker|manager`')
    .argument('<manager>', 'a manager address, host:port')
    .action(async (manager: string, f: CommonFlags & { token: string }) => {
      try {
        parseToken(f.token);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      await runUntilSignalled({ ...toOpts(f), join: { token: f.token, addr: checkAddr(manager, 'manager address') } }, f, async (d) => {
        process.stdout.write(`This node joined a swarm as a ${d.identity.role} (node ${d.identity.nodeId}).\n`);
      }, hooks);
    });

  withLogFlags(program.command('run'))
    .description('restart a node that already belongs to a cluster, from its data dir (runs in the foreground)')
    .option('--data-dir <dir>', 'the node state directory', defaultDataDir())
    .option('--api-addr <host:port>', 'serve the control API on TCP from now on (TLS with client certificates)')
    .option('--api-socket <path>', 'the control API unix socket (default <data-dir>/api.sock)')
    .option('--metrics-addr <host:port>', 'also serve Prometheus metrics (GET /metrics) on plain HTTP here; not remembered: pass it on every start', undefined)
    .option('--runtime <name>', 'change the default task runtime: process, oci or docker')
    .option('--oci-runtime <runc|crun>', 'change the OCI runtime binary of the oci runtime')
    .action(async (f: LogFlags & { dataDir: string; apiAddr?: string; apiSocket?: string; metricsAddr?: string; runtime?: string; ociRuntime?: string }) => {
      const runtime = checkRuntime(f.runtime);
      const ociRuntime = checkOciRuntime(f.ociRuntime);
      const api = { ...(f.apiAddr ? { apiAddr: checkAddr(f.apiAddr, '--api-addr') } : {}), ...(f.apiSocket ? { apiSocket: path.resolve(f.apiSocket) } : {}) };
      const metrics = f.metricsAddr ? { metricsAddr: checkAddr(f.metricsAddr, '--metrics-addr') } : {};
      await runUntilSignalled({ dataDir: f.dataDir, ...api, ...metrics, ...(runtime ? { runtime } : {}), ...(ociRuntime ? { ociRuntime } : {}) }, f, async (d) => {
        process.stdout.write(`Node ${d.identity.nodeId} (${d.identity.role}) running.\n`);
      }, hooks);
    });
}
