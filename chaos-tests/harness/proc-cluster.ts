/**
 * Real Shoal node processes — for integration tests, benchmarks and the chaos
 * harness: `shoal init`, `shoal join` and `shoal run` started from the
 * compiled CLI, each on its own 127.0.x.y address and data dir, killed with
 * SIGKILL, paused with SIGSTOP, or stopped with SIGTERM.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { existsSync } from 'node:fs';
import { FORKER_COMMS } from '../../src/worker/supervisor/forker.js';
import { releaseLeftovers } from '../../src/node/leftovers.js';
import { waitFor } from './wait.js';
import { claimOctets } from './octets.js';
import { readClientTls } from '../../src/cli/tls.js';

import { repoRoot } from './repo-root.js';

function compiled(rel: string): string {
  const p = path.join(repoRoot, rel);
  if (!existsSync(p)) throw new Error(`${p} is missing: run \`npm run build\` first`);
  return p;
}

/** The product CLI, as a user runs it. */
export const productCli = (): string => compiled('dist/bin/shoal.js');
/** The harness's CLI (chaos-tests/cli/main.ts): the same, with the fault hooks in every node it starts. */
export const harnessCli = (): string => compiled('.build/chaos-tests/cli/main.js');

export interface NodeProc {
  name: string;
  dataDir: string;
  host: string;
  port: number;
  apiPort: number;
  proc: ChildProcess | null;
  stdout: string;
  stderr: string;
  exits: { code: number | null; signal: NodeJS.Signals | null }[];
  /** Extra environment for this node's process (kept for restarts). */
  env?: Record<string, string>;
  /** Command prefix the node runs under (e.g. nsenter into its network namespace), kept for restarts. */
  wrap?: string[];
}

/** Where nodes live and how they are started (the chaos harness's --netns puts each in its own namespace). */
export interface ClusterLayout {
  /** The address of node i (1-based); default 127.0.<subnet>.i. */
  host?: (i: number) => string;
  /** A command prefix for node i's process, e.g. ['nsenter', '--net=/run/netns/x', '--']. */
  wrap?: (i: number) => string[];
  /** The CLI that starts nodes (default: the product's, productCli()). */
  cli?: () => string;
}

/** Per-node start options (the chaos harness: a tmpfs data dir). */
export interface SpawnOptions {
  env?: Record<string, string>;
  /** Runs before the process first starts, with the data dir path decided (e.g. to mount it). */
  prepare?: (n: NodeProc) => void | Promise<void>;
  /** Extra `shoal init`/`shoal join` flags, e.g. ['--runtime', 'oci'] (the node keeps them in its identity for restarts). */
  args?: string[];
}

export interface HttpResult {
  status: number;
  body: string;
  json<T = unknown>(): T;
}

export class ProcCluster {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'shoal-procs-'));
  readonly nodes: NodeProc[] = [];
  private readonly third: number;
  workerToken = '';
  managerToken = '';

  /** `subnet` picks 127.0.<subnet>.x, so test files running in parallel do not collide. `env` is added to every node's environment. */
  constructor(
    subnet?: number,
    private readonly env: Record<string, string> = {},
    private readonly layout: ClusterLayout = {},
  ) {
    this.third = subnet ?? claimOctets(100, 200);
  }

  /** The third octet of the nodes' loopback addresses. */
  get subnet(): number {
    return this.third;
  }

  private async makeNode(o: SpawnOptions = {}): Promise<NodeProc> {
    const i = this.nodes.length + 1;
    const n: NodeProc = {
      name: `n${i}`,
      dataDir: path.join(this.dir, `n${i}`),
      host: this.layout.host?.(i) ?? `127.0.${this.third}.${i}`,
      port: 4242,
      apiPort: 2375,
      proc: null,
      stdout: '',
      stderr: '',
      exits: [],
      ...(o.env ? { env: o.env } : {}),
      ...(this.layout.wrap ? { wrap: this.layout.wrap(i) } : {}),
    };
    this.nodes.push(n);
    await o.prepare?.(n);
    return n;
  }

  private spawn(n: NodeProc, args: string[]): void {
    const [cmd, ...pre] = n.wrap?.length ? [...n.wrap, process.execPath] : [process.execPath];
    const proc = spawn(cmd!, [...pre, (this.layout.cli ?? productCli)(), ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '', ...this.env, ...n.env } });
    n.proc = proc;
    proc.stdout!.on('data', (d: Buffer) => (n.stdout += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (n.stderr += d.toString()));
    proc.once('exit', (code, signal) => {
      n.exits.push({ code, signal });
      if (n.proc === proc) n.proc = null;
    });
  }

  /**
   * Waits for a node that was just started to reach a state, and fails at
   * once if its process exits first. Either failure carries the node's own
   * last words (stderr and stdout tails, exit status, CPU load): a bare
   * "timed out" once hid whether a node was slow, stuck or dead.
   */
  private async waitNode(n: NodeProc, probe: () => unknown, timeoutMs: number, what: string): Promise<void> {
    const proc = n.proc;
    const t0 = Date.now();
    try {
      const got = await waitFor(() => (probe() ? 'reached' : n.proc !== proc ? 'exited' : false), { timeoutMs, what: `${n.name} ${what}` });
      if (got === 'exited') throw new Error('the node process exited');
    } catch (e) {
      const tail = (s: string) => (s.length > 1500 ? `…${s.slice(-1500)}` : s) || '(nothing)';
      const state = n.proc === proc ? `still running after ${Date.now() - t0} ms` : `exited (${JSON.stringify(n.exits.at(-1))})`;
      throw new Error(
        `${n.name} never ${what}: ${state}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n` +
          `--- ${n.name} stderr ---\n${tail(n.stderr)}\n--- ${n.name} stdout ---\n${tail(n.stdout)}`,
        { cause: e },
      );
    }
  }

  private common(n: NodeProc): string[] {
    return ['--data-dir', n.dataDir, '--advertise-addr', `${n.host}:${n.port}`, '--api-addr', `${n.host}:${n.apiPort}`, '--hostname', n.name];
  }

  async init(o?: SpawnOptions): Promise<NodeProc> {
    const n = await this.makeNode(o);
    this.spawn(n, ['init', ...this.common(n), ...(o?.args ?? [])]);
    await this.waitNode(n, () => /shoal join --token (\S+) .*\n[\s\S]*shoal join --token (\S+) /.exec(n.stdout), 30_000, 'initialized');
    const tokens = [...n.stdout.matchAll(/shoal join --token (\S+) /g)].map((m) => m[1]!);
    this.workerToken = tokens[0]!;
    this.managerToken = tokens[1]!;
    await this.waitApi(n);
    return n;
  }

  async join(role: 'worker' | 'manager', via: NodeProc, o?: SpawnOptions): Promise<NodeProc> {
    const n = await this.makeNode(o);
    this.spawn(n, ['join', '--token', role === 'manager' ? this.managerToken : this.workerToken, ...this.common(n), ...(o?.args ?? []), `${via.host}:${via.port}`]);
    await this.waitNode(n, () => /joined a swarm/.test(n.stdout), 30_000, 'joined');
    if (role === 'manager') await this.waitApi(n);
    return n;
  }

  /** Restarts a stopped node from its data dir (`args`: flags a node does not keep, e.g. --metrics-addr). */
  async restart(n: NodeProc, args: string[] = []): Promise<void> {
    if (n.proc) throw new Error(`${n.name} is still running`);
    const before = n.stdout.length;
    this.spawn(n, ['run', '--data-dir', n.dataDir, ...args]);
    await this.waitNode(n, () => n.stdout.slice(before).includes('running'), 20_000, 'restarted');
  }

  /** Signals the node daemon only (its task supervisor and tasks run on: a daemon crash, or a graceful stop with SIGTERM). */
  kill(n: NodeProc, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const p = n.proc;
    if (!p) return Promise.resolve();
    return new Promise((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }

  /**
   * The machine dies: SIGKILL the daemon and the node's task supervisor at
   * once (the kernel then kills every task, tied to the supervisor).
   */
  async crash(n: NodeProc): Promise<void> {
    const sup = supervisorPid(n.dataDir);
    const done = this.kill(n, 'SIGKILL');
    if (sup) signal(sup, 'SIGKILL');
    await done;
  }

  /**
   * The machine freezes (a VM paused): SIGSTOP the daemon, the supervisor
   * and every task; `resume` thaws them in the reverse order.
   */
  pause(n: NodeProc): void {
    const sup = supervisorPid(n.dataDir);
    n.proc?.kill('SIGSTOP');
    if (!sup) return;
    signal(sup, 'SIGSTOP');
    for (const pid of childrenOf(sup)) signal(pid, 'SIGSTOP'); // its forker
    for (const pid of tasksOf(sup)) signal(-pid, 'SIGSTOP');
  }

  resume(n: NodeProc): void {
    const sup = supervisorPid(n.dataDir);
    if (sup) {
      for (const pid of tasksOf(sup)) signal(-pid, 'SIGCONT');
      for (const pid of childrenOf(sup)) signal(pid, 'SIGCONT');
      signal(sup, 'SIGCONT');
    }
    n.proc?.kill('SIGCONT');
  }

  /** The PID of the node's task supervisor, when one runs. */
  supervisorPid(n: NodeProc): number | null {
    return supervisorPid(n.dataDir);
  }

  async waitApi(n: NodeProc, timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => (await this.http(n, 'GET', '/_ping').catch(() => null))?.status === 200, { timeoutMs, what: `${n.name} API up` });
  }

  /** The admin client bundle the founding node's `shoal init` wrote (the API is TLS with client certificates). */
  adminDir(): string {
    return path.join(this.nodes[0]!.dataDir, 'admin');
  }

  /** The admin bundle's material for a TLS client; null until `shoal init` has written it. */
  clientTls(): { ca: string; cert: string; key: string } | null {
    const d = this.adminDir();
    const f = (x: string) => path.join(d, x);
    if (!existsSync(f('key.pem'))) return null;
    // Re-read when the node rewrote the bundle (a CA rotation: daemon.ts refreshAdminBundle).
    const stamp = ['ca.pem', 'cert.pem', 'key.pem'].map((x) => statSync(f(x)).mtimeMs).join('/');
    if (this.tlsCache?.stamp !== stamp) {
      const tls = readClientTls(d);
      if (!tls) return null;
      this.tlsCache = { stamp, tls };
    }
    return this.tlsCache.tls;
  }
  private tlsCache: { stamp: string; tls: { ca: string; cert: string; key: string } } | undefined;

  /** What a shoal or docker CLI process needs to reach node n's API. */
  apiEnv(n: NodeProc): Record<string, string> {
    const addr = `tcp://${n.host}:${n.apiPort}`;
    return { SHOAL_HOST: addr, SHOAL_CERT_PATH: this.adminDir(), DOCKER_HOST: addr, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: this.adminDir() };
  }

  http(n: NodeProc, method: string, p: string, body?: unknown, timeoutMs = 5_000): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : JSON.stringify(body);
      const tls = this.clientTls();
      if (!tls) return reject(new Error(`no admin bundle in ${this.adminDir()} yet`));
      const req = https.request(
        { host: n.host, port: n.apiPort, ...tls, path: p, method, timeout: timeoutMs, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
        (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b, json: <T>() => JSON.parse(b) as T }));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${p} on ${n.name} timed out`)));
      req.on('error', reject);
      if (data) req.write(data);
      req.end();
    });
  }

  /** The node whose API says it leads (via GET /nodes ManagerStatus.Leader). */
  async leader(timeoutMs = 15_000): Promise<NodeProc> {
    return waitFor(
      async () => {
        for (const n of this.nodes) {
          if (!n.proc) continue;
          const r = await this.http(n, 'GET', '/nodes', undefined, 1_000).catch(() => null);
          if (r?.status !== 200) continue;
          const nodes = r.json<{ Description: { Hostname: string }; ManagerStatus?: { Leader?: boolean } }[]>();
          const l = nodes.find((x) => x.ManagerStatus?.Leader);
          if (l) return this.nodes.find((x) => x.name === l.Description.Hostname && x.proc);
        }
        return undefined;
      },
      { timeoutMs, what: 'the leader' },
    );
  }

  /** Logs of every node, for a failing test's diagnostics. */
  logs(): string {
    return this.nodes.map((n) => `--- ${n.name} stdout\n${n.stdout}\n--- ${n.name} stderr\n${n.stderr.slice(-4000)}`).join('\n');
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.crash(n)));
    // What the dead nodes left outside their processes (escaped task processes, task cgroups, container
    // state, overlay and secret mounts): ~400 cgroups were left by every suite run before, and a host with
    // thousands of them creates and removes cgroups ever more slowly.
    await releaseLeftovers(this.dir);
    for (let attempt = 0; ; attempt++) {
      try {
        rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
        return;
      } catch (err) {
        if (attempt >= 20) {
          process.stderr.write(`proc-cluster: could not remove ${this.dir}: ${(err as Error).message}\n`);
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}

function supervisorPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'supervisor', 'supervisor.pid'), 'utf8').trim().split(' ')[0]);
    return Number.isInteger(pid) && pid > 1 ? pid : null;
  } catch {
    return null;
  }
}

/** Direct children of `pid` (from /proc). */
export function childrenOf(pid: number): number[] {
  return procs()
    .filter((p) => p.ppid === pid)
    .map((p) => p.pid);
}

/**
 * The tasks a supervisor holds (each a process, or an oci runtime's
 * process): the children of its task forker (C or Perl), or its own children
 * when it spawns them itself (no Perl on the machine).
 */
export function tasksOf(supervisor: number): number[] {
  const all = procs();
  const forkers = new Set(all.filter((p) => p.ppid === supervisor && FORKER_COMMS.includes(p.comm)).map((p) => p.pid));
  return all.filter((p) => forkers.has(p.ppid) || (p.ppid === supervisor && !forkers.has(p.pid))).map((p) => p.pid);
}

/** Every process on the machine: PID, parent PID and name, from /proc (one that exits meanwhile is left out). */
export function procs(): { pid: number; ppid: number; comm: string }[] {
  const out: { pid: number; ppid: number; comm: string }[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      out.push({ pid: Number(name), comm: stat.slice(stat.indexOf('(') + 1, close), ppid: Number(stat.slice(close + 2).split(' ')[1]) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone
  }
}

