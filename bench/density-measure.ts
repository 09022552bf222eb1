/**
 * What bench:density measures, the same way for Shoal and for the Swarm
 * peer: the machine's used memory, the CPU time of a tree of processes, and
 * the time until a service's N tasks all run — through the Docker-shaped
 * API both speak (POST /services/create, GET /tasks).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';

/** One JSON request to a Docker-shaped API (Shoal's and dockerd's, each over its unix socket). */
export type Api = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: unknown }>;

export interface TaskJson {
  ID: string;
  ServiceID: string;
  DesiredState: string;
  Status: { State: string };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A benchmark's progress lines on stderr, prefixed with its name. */
export function progressOf(bench: string): (msg: string) => void {
  return (msg) => process.stderr.write(`${bench}: ${msg}\n`);
}

export const progress = progressOf('density');

/** The middle value (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Shoal's API on the manager's unix socket. With a timeout: a node too busy to answer is an observation, never a hang. */
export function socketApi(socketPath: string, timeoutMs = 30_000): Api {
  return (method, p, body) =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request(
        { socketPath, path: p, method, agent: false, timeout: timeoutMs, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // an error page in plain text: keep it as is
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${p}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(data);
    });
}

/**
 * The machine's used memory in KiB: MemTotal − MemAvailable, the figure
 * `free` calls used plus what the kernel could not reclaim from its caches.
 */
function usedKiB(): number {
  const text = readFileSync('/proc/meminfo', 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return field('MemTotal') - field('MemAvailable');
}

/** The median of several samples of used memory (KiB): one sample catches other work's spikes. */
export async function medianUsedKiB(samples = 5, gapMs = 300): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i) await sleep(gapMs);
    v.push(usedKiB());
  }
  v.sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)]!;
}

/** MiB per task from two used-memory figures (KiB), two decimals. */
export function mibPerTask(beforeKiB: number, afterKiB: number, n: number): number {
  return Math.round(((afterKiB - beforeKiB) / 1024 / n) * 100) / 100;
}

/** "+12 MiB" / "-3 MiB" from KiB, for progress lines. */
export function signedMiB(kib: number): string {
  return `${kib >= 0 ? '+' : ''}${(kib / 1024).toFixed(0)} MiB`;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

interface ProcStat {
  /** The command name (up to 15 characters): node for the daemon and supervisors, sleep/crun/runc/sh for tasks. */
  comm: string;
  ppid: number;
  /** utime + stime + cutime + cstime, in clock ticks. */
  ticks: number;
  /** Start time since boot: with the PID, names one process even if the PID is reused. */
  start: string;
}

function readStat(pid: string): ProcStat | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { comm: s.slice(s.indexOf('(') + 1, s.lastIndexOf(')')), ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]), start: f[19]! };
  } catch {
    return null; // exited while we looked
  }
}

/**
 * The processes of one cluster: the root (the node daemon or dockerd), every
 * process whose command line names the cluster's directory (task supervisors,
 * runc/crun with their --root there, containerd with its state there — found
 * even if they were re-parented away from the root), and all their
 * descendants (the tasks). Keyed "pid:start".
 */
export function clusterProcesses(rootPid: number, dir: string): Map<string, ProcStat & { pid: number }> {
  const all = new Map<number, ProcStat>();
  const roots = new Set<number>([rootPid]);
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const st = readStat(e);
    if (!st) continue;
    all.set(Number(e), st);
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir)) roots.add(Number(e));
    } catch {
      // exited
    }
  }
  const children = new Map<number, number[]>();
  for (const [pid, st] of all) {
    const c = children.get(st.ppid);
    if (c) c.push(pid);
    else children.set(st.ppid, [pid]);
  }
  const out = new Map<string, ProcStat & { pid: number }>();
  const stack = [...roots].filter((p) => all.has(p));
  while (stack.length) {
    const pid = stack.pop()!;
    const st = all.get(pid)!;
    const key = `${pid}:${st.start}`;
    if (out.has(key)) continue;
    out.set(key, { ...st, pid });
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * The proportional set size of a cluster's processes, KiB: shared pages
 * split among their users. A cross-check of the machine-wide figure that
 * other work on the machine cannot move, but blind to kernel memory
 * (page tables aside): cgroups, mounts, namespaces.
 */
export function pssKiB(rootPid: number, dir: string): number {
  let sum = 0;
  for (const p of clusterProcesses(rootPid, dir).values()) {
    try {
      sum += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p.pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
    } catch {
      // exited, or a kernel thread
    }
  }
  return sum;
}

/**
 * CPU used by a cluster's processes over `ms`, as percent of one core.
 * Each process counts utime+stime plus cutime+cstime (its reaped children),
 * and the figure is the change of the set's total: a task or a runc call
 * that starts and ends inside the window is counted through its parent's
 * cutime. Chosen over the machine's busy time from /proc/stat because other
 * work shares this machine. Missed: a process of the set that is reaped by
 * someone outside it (an orphan reaped by PID 1) — rare for idle tasks.
 */
export async function cpuPercent(rootPid: number, dir: string, ms: number): Promise<number> {
  const total = (m: Map<string, ProcStat>) => [...m.values()].reduce((s, p) => s + p.ticks, 0);
  const t0 = Date.now();
  const before = total(clusterProcesses(rootPid, dir));
  await sleep(ms);
  const after = total(clusterProcesses(rootPid, dir));
  const secs = (Date.now() - t0) / 1000;
  return Math.round(((after - before) / CLK_TCK / secs) * 1000) / 10;
}

/** Every task of a service (all desired states: replaced ones too, as far as the history keeps them). */
export async function serviceTasks(api: Api, service: string, desired?: string): Promise<TaskJson[]> {
  const f: Record<string, string[]> = { service: [service], ...(desired ? { 'desired-state': [desired] } : {}) };
  const r = await api('GET', `/tasks?filters=${encodeURIComponent(JSON.stringify(f))}`);
  if (r.status !== 200 || !Array.isArray(r.body)) throw new Error(`GET /tasks: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  return r.body as TaskJson[];
}

const running = (ts: TaskJson[]) => ts.filter((t) => t.DesiredState === 'running' && t.Status.State === 'running').length;

/** The service's task counts (`GET /services?status=true`, as `docker service ls` reads them): a small answer whatever N is. */
async function runningCount(api: Api, service: string): Promise<number> {
  const r = await api('GET', `/services?status=true&filters=${encodeURIComponent(JSON.stringify({ name: [service] }))}`);
  const s = Array.isArray(r.body) ? (r.body as { Spec?: { Name?: string }; ServiceStatus?: { RunningTasks?: number } }[]).find((x) => x.Spec?.Name === service) : undefined;
  if (r.status !== 200 || !s?.ServiceStatus) throw new Error(`GET /services?status=true: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  return s.ServiceStatus.RunningTasks ?? 0;
}

/**
 * Creates a replicated service of n tasks and times, from the request, until
 * all n run at once. Polls every `pollMs` after the previous answer, so a
 * loaded node is never asked faster than it answers; failed polls (a busy
 * node) are counted, not fatal. Null time when the deadline passed first.
 *
 * The polls read the service's running count, not its task list: with 300
 * tasks a list cost the node under test 8.7 ms of CPU a request and a count
 * 3.1 ms (`perf stat` task-clock over 100 requests each; a bare /_ping 2.5
 * ms), taken from the CPU the start itself needs. Both orchestrators answer
 * `?status=true`. The count
 * says "running" of any task, so once it reaches n one task list decides:
 * all n tasks the orchestrator wants running do run. The time is that of
 * the count when the list shows just those n tasks (none was replaced, so
 * the count was of them), else that of the list.
 * `tasks`: distinct tasks of the service in that list — more than n when
 * tasks were replaced on the way.
 */
export async function createAndTime(
  api: Api,
  spec: { Name: string; TaskTemplate: unknown },
  n: number,
  o: { deadlineMs: number; pollMs: number },
): Promise<{ allRunningMs: number | null; running: number; tasks: number; failedPolls: number }> {
  const t0 = Date.now();
  const r = await api('POST', '/services/create', { ...spec, Mode: { Replicated: { Replicas: n } } });
  if (r.status !== 201) throw new Error(`POST /services/create: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  let failedPolls = 0;
  let now = 0;
  let tasks = 0;
  let lastReport = t0;
  for (;;) {
    let at = Date.now();
    try {
      now = await runningCount(api, spec.Name);
      at = Date.now();
      if (now >= n) {
        const ts = await serviceTasks(api, spec.Name);
        tasks = ts.length;
        now = running(ts);
        if (now >= n) {
          const onlyThese = ts.length === n && ts.every((t) => t.DesiredState === 'running');
          return { allRunningMs: (onlyThese ? at : Date.now()) - t0, running: now, tasks, failedPolls };
        }
      }
    } catch {
      failedPolls++;
    }
    if (at - t0 > o.deadlineMs) {
      // The count polls saw no task list: take one, for the tasks replaced on the way.
      tasks = (await serviceTasks(api, spec.Name).catch(() => [])).length;
      return { allRunningMs: null, running: now, tasks, failedPolls };
    }
    if (at - lastReport >= 5_000) {
      progress(`  ${now}/${n} running after ${((at - t0) / 1000).toFixed(0)} s${failedPolls ? ` (${failedPolls} polls failed)` : ''}`);
      lastReport = at;
    }
    await sleep(o.pollMs);
  }
}

/** Polls until `done` holds; false when the deadline passed first (the caller says so and moves on). */
export async function until(done: () => Promise<boolean>, timeoutMs: number, intervalMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await done()) return true;
    } catch {
      // a busy or restarting API: try again
    }
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

/** The machine's busy share of CPU over `ms`, from /proc/stat (0–1). */
async function busyShare(ms: number): Promise<number> {
  const read = () => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const idle = f[3]! + (f[4] ?? 0);
    return { idle, total: f.reduce((a, b) => a + b, 0) };
  };
  const a = read();
  await sleep(ms);
  const b = read();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}

/**
 * Waits (up to maxMs) until the machine is quiet — under 10 % busy over a
 * second — so that one measurement does not time the tail of the previous
 * one (a peer daemon still tearing down its containers). Says how long.
 */
export async function quiet(maxMs = 60_000): Promise<void> {
  const t0 = Date.now();
  let share = 1;
  while (Date.now() - t0 < maxMs && (share = await busyShare(1_000)) > 0.1);
  if (share > 0.1) progress(`  the machine is still ${Math.round(share * 100)} % busy after ${maxMs / 1000} s; measuring anyway`);
  else if (Date.now() - t0 > 1_500) progress(`  waited ${((Date.now() - t0) / 1000).toFixed(0)} s for the machine to be quiet`);
}
