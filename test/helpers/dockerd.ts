/**
 * A private Docker daemon for tests (and the chaos harness), never the
 * host's: its own socket, data root, exec root and pid file under
 * /tmp/shoal-dockerd/<name>, its own bridge device on a private test address
 * (no iptables, no ip forwarding), no registry reachable (proxies point at a
 * closed port; images come in with importImage, i.e. `docker import` through
 * the API).
 *
 * Robust to a previous run that crashed: each directory records its owner
 * (the test process, PID + start time); a directory whose owner is gone is a
 * leftover — its daemon, containerd and shims are stopped by PID, its mounts
 * unmounted, the directory removed — while one whose owner is alive belongs
 * to a concurrent run and is left alone (this run takes "<name>-2", …).
 * The bridge is created only when missing and left in place afterwards.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, openSync, closeSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { waitFor } from './wait.js';
import { unmountUnder } from '../../src/node/leftovers.js';
import { isSameProcess, lockPidFile, procRef, readPidFile } from '../../src/worker/runtime/common/proc.js';

export interface DockerdOptions {
  /** Distinguishes concurrent daemons (one per test file): /tmp/shoal-dockerd/<name>. */
  name: string;
  bridge?: string;
  /** Address of the bridge, CIDR. */
  bridgeCidr?: string;
  startTimeoutMs?: number;
}

export interface Dockerd {
  dir: string;
  socketPath: string;
  pid: number;
  /** A JSON request to the daemon. */
  api<T = unknown>(method: string, p: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** `docker import` of a rootfs tarball as NAME (repo:tag), with Dockerfile-style changes, e.g. 'CMD ["sh"]'. */
  importImage(tarball: string, name: string, changes?: string[]): Promise<void>;
  /** The daemon's own log, for diagnostics. */
  log(): string;
  stop(): Promise<void>;
}

const BASE = '/tmp/shoal-dockerd';

function which(bin: string): string | null {
  for (const d of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (d && existsSync(path.join(d, bin))) return path.join(d, bin);
  }
  return null;
}

/** Whether a private dockerd can run here; the reason when not. */
export function dockerdAvailable(): { ok: boolean; reason?: string } {
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not root: cannot start a private dockerd' };
  if (!which('dockerd')) return { ok: false, reason: 'dockerd is not installed' };
  if (!which('containerd')) return { ok: false, reason: 'containerd is not installed' };
  if (!which('ip')) return { ok: false, reason: 'iproute2 (ip) is not installed' };
  return { ok: true };
}

function ip(...args: string[]): { ok: boolean; err: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  return { ok: r.status === 0, err: r.stderr ?? '' };
}

function ensureBridge(name: string, cidr: string): void {
  if (!ip('link', 'show', name).ok) {
    const add = ip('link', 'add', name, 'type', 'bridge');
    // A concurrent test file may have added it a moment ago.
    if (!add.ok && !/exists/i.test(add.err)) throw new Error(`ip link add ${name}: ${add.err.trim()}`);
  }
  const addr = ip('addr', 'add', cidr, 'dev', name);
  if (!addr.ok && !/exists|already assigned/i.test(addr.err)) throw new Error(`ip addr add ${cidr} dev ${name}: ${addr.err.trim()}`);
  const up = ip('link', 'set', name, 'up');
  if (!up.ok) throw new Error(`ip link set ${name} up: ${up.err.trim()}`);
}

/** PIDs whose command line mentions dir: the daemon, its containerd and shims from an earlier run. */
function processesUsing(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(`${dir}/`)) out.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

async function killAll(pids: number[], graceMs: number): Promise<void> {
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  await waitFor(() => pids.every((p) => !alive(p)), { timeoutMs: graceMs, what: 'old daemon processes to exit' }).catch(() => undefined);
  for (const p of pids) {
    if (!alive(p)) continue;
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await waitFor(() => pids.every((p) => !alive(p)), { timeoutMs: 5_000, what: 'old daemon processes to die' }).catch(() => undefined);
}

/** Whether the process that started the daemon in dir (its pid file `owner`: PID and /proc start time) still runs. */
function ownerAlive(dir: string): boolean {
  return isSameProcess(readPidFile(path.join(dir, 'owner')));
}

/**
 * A directory whose owner process is gone is a leftover of a crashed run:
 * stop what still runs from it and remove it. One whose owner is alive
 * belongs to a concurrent run and is left alone.
 */
async function sweep(): Promise<void> {
  let names: string[] = [];
  try {
    names = readdirSync(BASE);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith(LOCK)) continue;
    const dir = path.join(BASE, n);
    if (!ownerAlive(dir)) await cleanLeftovers(dir);
  }
}

/** The lock file, and the temporary files lockPidFile links it from. */
const LOCK = '.lock';

/**
 * Runs `fn` while no other test process sweeps or claims a daemon dir (the
 * supervisor's pid-file lock, lockPidFile). Without it, one process's sweep()
 * found another's dir before it was claimed, spent a while scanning /proc,
 * then removed it just after that process had created it (a fresh clone's
 * CI: ENOENT opening dockerd.log).
 */
async function exclusively<T>(fn: () => Promise<T>): Promise<T> {
  const lock = path.join(BASE, LOCK);
  mkdirSync(BASE, { recursive: true });
  await waitFor(() => lockPidFile(lock), { timeoutMs: 120_000, intervalMs: 50, what: "the lock on the test daemons' directory" });
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

async function cleanLeftovers(dir: string): Promise<void> {
  const pidFile = path.join(dir, 'dockerd.pid');
  const pids = new Set(processesUsing(dir));
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pid > 0 && alive(pid) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('dockerd')) pids.add(pid);
  }
  if (pids.size) await killAll([...pids], 10_000);
  if (existsSync(dir)) {
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

function request<T>(socketPath: string, method: string, p: string, body?: unknown, raw?: NodeJS.ReadableStream, timeoutMs = 30_000): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        socketPath,
        path: p,
        method,
        agent: false,
        timeout: timeoutMs,
        headers: { host: 'docker', ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}), ...(raw ? { 'content-type': 'application/x-tar' } : {}) },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            /* a stream of JSON objects or plain text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${p}: timed out`)));
    req.on('error', reject);
    if (raw) raw.pipe(req);
    else req.end(data);
  });
}

export async function startDockerd(opts: DockerdOptions): Promise<Dockerd> {
  const a = dockerdAvailable();
  if (!a.ok) throw new Error(a.reason);
  if (!/^[a-z0-9-]{1,24}$/.test(opts.name)) throw new Error(`dockerd name ${opts.name}: use [a-z0-9-]{1,24} (it goes into socket paths)`);
  const dir = await exclusively(async () => {
    await sweep();
    // A concurrent run (another test process) holding the name keeps it; take the next free one.
    let d = path.join(BASE, opts.name);
    for (let i = 2; ownerAlive(d); i++) d = path.join(BASE, `${opts.name}-${i}`);
    await cleanLeftovers(d);
    mkdirSync(d, { recursive: true });
    const me = procRef(process.pid)!;
    writeFileSync(path.join(d, 'owner'), `${me.pid} ${me.startTime}\n`);
    return d;
  });
  const bridge = opts.bridge ?? 'shoaldock0';
  ensureBridge(bridge, opts.bridgeCidr ?? '10.213.61.1/24');

  const socketPath = path.join(dir, 'docker.sock');
  const logFile = path.join(dir, 'dockerd.log');
  const out = openSync(logFile, 'a');
  const dead = 'http://127.0.0.1:9';
  const child = spawn(
    which('dockerd')!,
    [
      '--host', `unix://${socketPath}`,
      '--data-root', path.join(dir, 'data'),
      '--exec-root', path.join(dir, 'exec'),
      '--pidfile', path.join(dir, 'dockerd.pid'),
      '--storage-driver', 'overlay2',
      '--iptables=false',
      '--ip-forward=false',
      '--bridge', bridge,
      '--log-level', 'warn',
    ],
    {
      detached: true,
      stdio: ['ignore', out, out],
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1',
        // Nothing may reach a registry: any pull would go to a closed local port.
        HTTP_PROXY: dead,
        HTTPS_PROXY: dead,
        http_proxy: dead,
        https_proxy: dead,
        NO_PROXY: '',
      },
    },
  );
  closeSync(out);
  child.unref();
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  const log = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  try {
    await waitFor(
      async () => {
        if (exited !== undefined) throw new Error(`dockerd exited (${exited}): ${log().slice(-2000)}`);
        return (await request(socketPath, 'GET', '/_ping', undefined, undefined, 2_000).catch(() => null))?.status === 200;
      },
      { timeoutMs: opts.startTimeoutMs ?? 30_000, intervalMs: 50, what: 'the private dockerd to answer /_ping' },
    );
  } catch (err) {
    await killAll([child.pid!, ...processesUsing(dir)], 5_000);
    throw new Error(`${(err as Error).message}\n${log().slice(-2000)}`);
  }

  const d: Dockerd = {
    dir,
    socketPath,
    pid: child.pid!,
    api: (method, p, body) => request(socketPath, method, p, body),
    async importImage(tarball, name, changes = ['CMD ["sh"]']) {
      const colon = name.lastIndexOf(':');
      const repo = colon > name.lastIndexOf('/') ? name.slice(0, colon) : name;
      const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : 'latest';
      const q = new URLSearchParams({ fromSrc: '-', repo, tag });
      for (const c of changes) q.append('changes', c);
      const r = await request<unknown>(socketPath, 'POST', `/images/create?${q}`, undefined, createReadStream(tarball), 120_000);
      const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
      if (r.status !== 200 || text.includes('errorDetail')) throw new Error(`docker import ${name}: ${r.status} ${text.slice(0, 500)}`);
    },
    log,
    async stop() {
      // Containers first (force-removed at once: dockerd would give each 10 s on SIGTERM), then
      // SIGTERM lets dockerd stop containerd; anything left is ended by PID.
      const list = await request<{ Id: string }[]>(socketPath, 'GET', '/containers/json?all=1', undefined, undefined, 5_000).catch(() => null);
      for (const c of Array.isArray(list?.body) ? list.body : []) await request(socketPath, 'DELETE', `/containers/${c.Id}?force=1&v=1`, undefined, undefined, 10_000).catch(() => null);
      await killAll([child.pid!], 15_000);
      const left = processesUsing(dir);
      if (left.length) await killAll(left, 5_000);
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return d;
}
