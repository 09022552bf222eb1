/**
 * npm run bench:density — how many tasks one node carries.
 *
 * A single-node cluster started as a user starts one (`shoal up --managers 1
 * --workers 0`, the compiled CLI, its own loopback prefix and a temp dir).
 * For each runtime (process; oci when root with runc/crun and busybox-static)
 * and each N: one service of N replicas of `sleep 86400`, created through the
 * API; measured, then removed and its tasks gone before the next.
 *   all_running_ms    from the create request until all N tasks run
 *   mb_per_task       rise of the machine's used memory (MemTotal −
 *                     MemAvailable, medians) from before the create to a few
 *                     seconds after all run, MiB per task
 *   idle_cpu_pct      CPU of the node daemon, its supervisors and the tasks
 *                     over --idle seconds while they hold, % of one core
 *   restarts_in_120s  tasks replaced while holding for --hold seconds
 *   node_down_events  times the node left 'ready', from the create to the end
 *                     of the hold
 * and, to read those by: pss_mb_per_task (the rise of the PSS of the node's
 * processes, which other work on this shared machine cannot move),
 * restarts_before_all_running, hold_s, running_at_end; for oci also
 * oci_floor_ms, the same N containers started by crun/runc alone (overlay
 * mount + run --detach from two shells, bench/oci-floor.ts),
 * oci_floor_libcrun_ms, the same through the forker's libcrun path (null
 * where there is none), and oci_floor_libcrun_full_ms, that path with each
 * container configured as the node configures a task's. With --peer swarm a
 * single-node Docker Swarm on a private dockerd gets the same service for
 * each N: swarm_all_running_ms, swarm_mb_per_task (swarm_pss_mb_per_task).
 * fs_settle_s: on ext4 without a journal (fs-settle.ts) each timed start,
 * Shoal's, a floor's or Swarm's, waits until that long after the bench's last
 * deletion; 0 where the filesystem does not need it or with --no-settle.
 *
 * The node may collapse at these densities (declare itself down, fence its
 * tasks, start them again): that is reported in the figures, not an error.
 *
 * Flags (or env): --n 100,300 (BENCH_DENSITY_N), --runtimes process,oci
 * (BENCH_DENSITY_RUNTIMES), --hold 120 (BENCH_DENSITY_HOLD), --idle 20
 * (BENCH_DENSITY_IDLE), --deadline 600 (BENCH_DENSITY_DEADLINE, seconds for
 * all N to run), --peer swarm (BENCH_DENSITY_PEER), --no-settle
 * (BENCH_DENSITY_SETTLE=0: time each start right after the last phase's
 * removal). Progress on stderr; one
 * JSON line per (runtime, N) on stdout, the last one last.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeApiSocket, nodeDataDir, nodeLogFile, readCluster } from '../src/cli/local/cluster-file.js';
import { probe, which } from '../src/worker/runtime/oci/binaries.js';
import { busyboxBinary, busyboxRootfs } from '../test/helpers/busybox-rootfs.js';
import { quiet, clusterProcesses, cpuPercent, createAndTime, medianUsedKiB, mibPerTask, progress, pssKiB, serviceTasks, signedMiB, sleep, socketApi, until, type Api, type TaskJson } from './density-measure.js';
import { NO_SWARM, SwarmPeer, type SwarmFigures } from './density-swarm.js';
import { imageRootfs, ociFloorLibcrunMs, ociFloorMs } from './oci-floor.js';
import { DELETION_WINDOW_MS, deletionPenalty, FsSettle } from './fs-settle.js';
import { FORKER_COMMS } from '../src/worker/supervisor/forker.js';
import { parseRecord } from '../src/util/log/pretty.js';
import { unmountUnder } from '../src/node/leftovers.js';

type Runtime = 'process' | 'oci';

interface Options {
  ns: number[];
  runtimes: Runtime[];
  holdMs: number;
  idleMs: number;
  deadlineMs: number;
  peer: 'swarm' | null;
  /** Wait out the filesystem's recent deletions before each timed start (fs-settle.ts); --no-settle times phases back to back. */
  settle: boolean;
}

/** Used memory settles a few seconds after the last task starts (supervisors finish starting, logs open). */
const SETTLE_MS = 5_000;
/** Polls for "all running" (a service's counts: a small answer) follow each answer by this much: a tight measure that never queues requests on a loaded node. */
const POLL_MS = 100;
/** How often the node's state is read for down events: shorter than the dispatcher's 1 s heartbeat, so a down spell is seen. */
const NODE_POLL_MS = 250;
/** Prefixes no test uses (they take 127.0.100–249), tried in order until one is free. */
const IP_PREFIXES = ['127.0.251', '127.0.252', '127.0.253', '127.0.254'];

function options(): Options {
  const { values } = parseArgs({
    options: { n: { type: 'string' }, runtimes: { type: 'string' }, hold: { type: 'string' }, idle: { type: 'string' }, deadline: { type: 'string' }, peer: { type: 'string' }, 'no-settle': { type: 'boolean' } },
  });
  const env = process.env;
  const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);
  const seconds = (v: string, what: string) => {
    const s = Number(v);
    if (!(s > 0)) throw new Error(`${what} must be a positive number of seconds, got ${JSON.stringify(v)}`);
    return s * 1000;
  };
  const ns = list(values.n ?? env.BENCH_DENSITY_N ?? '100,300').map(Number);
  if (ns.length === 0 || !ns.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`--n must list positive integers, got ${values.n ?? env.BENCH_DENSITY_N}`);
  const runtimes = list(values.runtimes ?? env.BENCH_DENSITY_RUNTIMES ?? 'process,oci');
  for (const r of runtimes) if (r !== 'process' && r !== 'oci') throw new Error(`--runtimes: process and/or oci, got ${r}`);
  const peer = values.peer ?? env.BENCH_DENSITY_PEER ?? '';
  if (peer && peer !== 'swarm') throw new Error(`--peer: only swarm, got ${peer}`);
  return {
    ns,
    runtimes: runtimes as Runtime[],
    holdMs: seconds(values.hold ?? env.BENCH_DENSITY_HOLD ?? '120', '--hold'),
    idleMs: seconds(values.idle ?? env.BENCH_DENSITY_IDLE ?? '20', '--idle'),
    deadlineMs: seconds(values.deadline ?? env.BENCH_DENSITY_DEADLINE ?? '600', '--deadline'),
    peer: peer === 'swarm' ? 'swarm' : null,
    settle: !(values['no-settle'] ?? env.BENCH_DENSITY_SETTLE === '0'),
  };
}

/** Why the oci runtime cannot run here, or null; and the binary it would use (crun's foreground process is far smaller than runc's). */
function ociSupport(): { reason: string | null; binary: 'crun' | 'runc' } {
  const binary = which('crun') && probe(which('crun')!).ok ? 'crun' : 'runc';
  if (process.getuid?.() !== 0) return { reason: 'not root', binary };
  if (!which(binary)) return { reason: 'neither crun nor runc is installed', binary };
  if (!busyboxBinary()) return { reason: 'busybox-static is not installed (the image is built from it)', binary };
  return { reason: null, binary };
}

const CLI = fileURLToPath(new URL('../bin/shoal.js', import.meta.url));

/** Runs the compiled shoal CLI to completion; its output goes to our stderr as progress. */
function shoal(args: string[], timeoutMs: number): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 500 });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
}

function alive(pid: number, start: string): boolean {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return f[0] !== 'Z' && f[19] === start;
  } catch {
    return false;
  }
}

/** The one-node cluster: started with `shoal up`, driven through its API, ended with `shoal down --purge`. */
class ShoalNode {
  private constructor(
    readonly dir: string,
    readonly api: Api,
    /** For the node-state poll: an answer later than this is a busy node, and the next poll must not wait for it. */
    readonly quickApi: Api,
    readonly pid: number,
    readonly dataDir: string,
    readonly logFile: string,
  ) {}

  /** `root` is the caller's to remove (see close), so that a failed `up` is cleaned up too. */
  static async up(root: string, ociBinary: 'crun' | 'runc'): Promise<ShoalNode> {
    const dir = path.join(root, 'cluster');
    let prefix: string | undefined;
    for (const p of IP_PREFIXES) {
      if (!(await listening(`${p}.11`, 4242)) && !(await listening(`${p}.11`, 2375))) {
        prefix = p;
        break;
      }
    }
    if (!prefix) throw new Error(`every loopback prefix we use is taken: ${IP_PREFIXES.join(', ')}`);
    const up = await shoal(['up', '--managers', '1', '--workers', '0', '--ip-prefix', prefix, '--dir', dir, '--oci-runtime', ociBinary], 120_000);
    progress(up.out.trim().split('\n')[0] ?? '');
    if (up.code !== 0) throw new Error(`shoal up failed (${up.code}):\n${up.out}`);
    const n = readCluster(dir)!.nodes[0]!;
    const sock = nodeApiSocket(dir, n);
    progress(`node ${n.name} (pid ${n.pid}), API unix://${sock}, data in ${dir}`);
    return new ShoalNode(dir, socketApi(sock), socketApi(sock, 2_000), n.pid!, nodeDataDir(dir, n), nodeLogFile(dir, n));
  }

  async importImage(tarball: string): Promise<void> {
    const r = await shoal(['image', 'import', 'busybox:latest', tarball, '--data-dir', this.dataDir], 120_000);
    if (r.code !== 0) throw new Error(`shoal image import: ${r.out}`);
  }

  /** The node's state ('ready', 'down', …), or 'unanswered' when its API did not reply in time. */
  async state(): Promise<string> {
    try {
      const r = await this.quickApi('GET', '/nodes');
      return (r.body as { Status: { State: string } }[])[0]?.Status.State ?? 'unknown';
    } catch {
      return 'unanswered';
    }
  }

  /**
   * Whether any task process of the node is left: anything of the cluster
   * that is not Node.js — the daemon and its supervisors are, the tasks and
   * runc/crun are not (a per-task supervisor ends with its task).
   */
  tasksLeft(): boolean {
    // The node's own processes: its daemon and supervisor (node) and the supervisor's task forker (C or Perl).
    return [...clusterProcesses(this.pid, this.dir).values()].some((p) => p.comm !== 'node' && !FORKER_COMMS.includes(p.comm));
  }

  /** Waits until the node is ready and runs no task processes; false at the deadline. */
  async quiet(timeoutMs: number): Promise<boolean> {
    return until(async () => (await this.state()) === 'ready' && !this.tasksLeft(), timeoutMs, 500);
  }

  /**
   * Removes a service and waits until its tasks are out of the store and
   * their processes have exited; false at the deadline. A node in trouble
   * answers late or not at all, so every request is retried until then.
   */
  async remove(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let id: string | undefined;
    const deleted = await until(
      async () => {
        const svc = await this.api('GET', `/services/${name}`);
        if (svc.status === 404) return true;
        id = (svc.body as { ID: string }).ID;
        return (await this.api('DELETE', `/services/${id}`)).status === 200;
      },
      timeoutMs,
      1_000,
    );
    if (!deleted) return false;
    return until(
      async () => {
        const tasks = (await this.api('GET', '/tasks')).body as TaskJson[];
        return tasks.every((t) => t.ServiceID !== id) && !this.tasksLeft();
      },
      Math.max(0, deadline - Date.now()),
      500,
    );
  }

  /**
   * Best effort whatever state the node is in: services removed (their tasks
   * and, for oci, their mounts and cgroups go away properly), `shoal down
   * --purge`, then any process of the cluster still alive 10 s later killed
   * (a supervisor that outlives its daemon by design, tasks of a node that
   * collapsed), and what those would have cleaned up done here: mounts,
   * the temp dir, the tasks' cgroups.
   */
  static async close(root: string, node: ShoalNode | null): Promise<void> {
    const dir = path.join(root, 'cluster');
    if (node) {
      let names: string[] = [];
      await until(async () => {
        names = ((await node.api('GET', '/services')).body as { Spec: { Name: string } }[]).map((s) => s.Spec.Name);
        return true;
      }, 60_000);
      for (const name of names) if (!(await node.remove(name, 60_000))) progress(`${name} could not be removed within 60 s`);
    }
    // Taken before the daemon goes: once it has, a task's ancestry no longer leads to it.
    const procs = node ? [...clusterProcesses(node.pid, dir).values()] : [];
    const cgroups = node ? taskCgroups(node) : [];
    if (readCluster(dir)) {
      const down = await shoal(['down', '--purge', '--dir', dir], 60_000);
      progress(down.out.trim().replace(/\n/g, '; '));
    }
    const left = () => procs.filter((p) => alive(p.pid, p.start));
    if (!(await until(async () => left().length === 0, 10_000))) {
      progress(`killing ${left().length} leftover process(es) of the cluster`);
      for (const p of left()) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
    }
    unmountUnder(root);
    rmSync(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    for (const c of cgroups) {
      try {
        rmdirSync(c);
      } catch {
        // still in use, or never made
      }
    }
  }
}

/**
 * Where the cgroups of the node's remaining tasks would be, in every v1
 * hierarchy: `shoal/<task>` under the daemon's own cgroup (the process
 * runtime, runc) or under the root (crun). Only existing directories.
 */
function taskCgroups(node: ShoalNode): string[] {
  const ids = ['process', 'oci'].flatMap((r) => {
    try {
      return readdirSync(path.join(node.dataDir, 'runtime', r, 'tasks'));
    } catch {
      return [];
    }
  });
  if (ids.length === 0) return [];
  let own: string[] = [];
  try {
    own = readFileSync(`/proc/${node.pid}/cgroup`, 'utf8')
      .split('\n')
      .map((l) => l.split(':')[2] ?? '')
      .filter(Boolean);
  } catch {
    // the daemon is gone: the root is all we know
  }
  const parents = [...new Set(['/', ...own])];
  return readdirSync('/sys/fs/cgroup')
    .flatMap((h) => parents.flatMap((p) => ids.map((id) => path.join('/sys/fs/cgroup', h, p, 'shoal', id))))
    .filter((c) => existsSync(c));
}

/**
 * Counts the node's down spells: a poll every NODE_POLL_MS of its state
 * (a change from 'ready' to anything else — down, disconnected, unknown —
 * is one), and the dispatcher's "node … down:" log lines, which catch a
 * spell shorter than a poll. The larger of the two is the figure.
 */
class DownWatch {
  private transitions = 0;
  private last = 'ready';
  private stopped = false;
  private readonly loop: Promise<void>;
  private result: Promise<number> | null = null;
  private readonly logOffset: number;

  constructor(private readonly node: ShoalNode) {
    this.logOffset = statSync(node.logFile).size;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const s = await this.node.state();
      // An unanswered poll says the node is busy, not that the cluster thinks it is down.
      if (s !== 'unanswered') {
        if (this.last === 'ready' && s !== 'ready') {
          this.transitions++;
          progress(`  node is ${s}`);
        } else if (this.last !== 'ready' && s === 'ready') progress('  node is ready again');
        this.last = s;
      }
      await sleep(NODE_POLL_MS);
    }
  }

  /** Ends the polling (once: a failed phase stops it too) and says how many down events there were. */
  stop(): Promise<number> {
    this.stopped = true;
    return (this.result ??= this.loop.then(() => {
      const log = readFileSync(this.node.logFile).subarray(this.logOffset).toString();
      const logged = log.split('\n').filter((l) => /^node \S+ down: /.test(parseRecord(l)?.msg ?? '')).length;
      return Math.max(this.transitions, logged);
    }));
  }
}

const serviceName = (runtime: Runtime, n: number) => `density-${runtime}-${n}`;

/** One (runtime, N) on a quiet node, its down events counted throughout; the watch ends even if the phase fails. */
async function measure(node: ShoalNode, runtime: Runtime, n: number, o: Options): Promise<Record<string, unknown>> {
  if (!(await node.quiet(180_000))) progress('  the node is not quiet after 180 s (not ready, or processes of earlier tasks left): measuring anyway');
  const watch = new DownWatch(node);
  try {
    return await createHoldRemove(node, runtime, n, o, watch);
  } finally {
    await watch.stop();
  }
}

/** Create, time, hold (memory, CPU, restarts), remove. */
async function createHoldRemove(node: ShoalNode, runtime: Runtime, n: number, o: Options, watch: DownWatch): Promise<Record<string, unknown>> {
  const name = serviceName(runtime, n);
  await quiet();
  const before = await medianUsedKiB();
  const pssBefore = pssKiB(node.pid, node.dir);
  progress(`${runtime} N=${n}: creating ${name}`);
  const spec = { Name: name, TaskTemplate: { Runtime: runtime, ContainerSpec: { Image: 'busybox:latest', Command: ['sleep', '86400'] } } };
  const r = await createAndTime(node.api, spec, n, { deadlineMs: o.deadlineMs, pollMs: POLL_MS });
  progress(
    `  ${r.running}/${n} running${r.allRunningMs === null ? ` at the deadline (${o.deadlineMs / 1000} s)` : ` in ${r.allRunningMs} ms`}; ${Math.max(0, r.tasks - n)} tasks replaced on the way${r.failedPolls ? `; ${r.failedPolls} polls unanswered` : ''}`,
  );

  // Restarts: task IDs of the service that appear after the hold starts. Seen by polling, not
  // by counting the store at the end, because the store keeps only 5 old tasks per slot.
  const holdStart = Date.now();
  const seen = new Set<string>();
  const look = async () => {
    for (const t of await serviceTasks(node.api, name)) seen.add(t.ID);
  };
  const first = await until(async () => (await look(), true), 30_000);
  const initial = new Set(seen);
  const holdUntil = async (t: number) => {
    while (Date.now() < t) {
      await look().catch(() => undefined);
      await sleep(Math.min(1_000, Math.max(0, t - Date.now())));
    }
  };

  await holdUntil(holdStart + SETTLE_MS);
  const after = await medianUsedKiB();
  const pssAfter = pssKiB(node.pid, node.dir);
  progress(`  used memory ${signedMiB(after - before)}, the cluster's PSS ${signedMiB(pssAfter - pssBefore)}; CPU over ${o.idleMs / 1000} s`);
  // No task polls meanwhile: their cost would be counted as the node's. A slot replaced more
  // than 5 times within this window would drop out of the history and go uncounted.
  const cpu = await cpuPercent(node.pid, node.dir, o.idleMs);
  await holdUntil(holdStart + o.holdMs);
  await look().catch(() => undefined);
  const holdEnd = Date.now();
  const runningAtEnd = (await serviceTasks(node.api, name, 'running').catch(() => [])).filter((t) => t.Status.State === 'running').length;
  const downs = await watch.stop();
  const restarts = first ? [...seen].filter((id) => !initial.has(id)).length : null;
  progress(`  held ${((holdEnd - holdStart) / 1000).toFixed(0)} s: ${restarts ?? '?'} restarts, ${downs} down events, ${runningAtEnd}/${n} running at the end; removing`);
  if (!(await node.remove(name, 180_000))) progress(`  ${name}'s tasks are not all gone after 180 s`);
  return {
    runtime,
    n,
    all_running_ms: r.allRunningMs,
    mb_per_task: r.allRunningMs === null ? null : mibPerTask(before, after, n),
    pss_mb_per_task: r.allRunningMs === null ? null : mibPerTask(pssBefore, pssAfter, n),
    idle_cpu_pct: cpu,
    restarts_in_120s: restarts,
    node_down_events: downs,
    restarts_before_all_running: Math.max(0, r.tasks - n),
    hold_s: Math.round((holdEnd - holdStart) / 1000),
    running_at_end: runningAtEnd,
  };
}

async function main(): Promise<void> {
  const o = options();
  const oci = ociSupport();
  const runtimes = o.runtimes.filter((r) => {
    if (r === 'oci' && oci.reason) progress(`skipping the oci runtime: ${oci.reason}`);
    return r !== 'oci' || !oci.reason;
  });
  const root = mkdtempSync(path.join(tmpdir(), 'shoal-density-'));
  let node: ShoalNode | null = null;
  let swarm: SwarmPeer | null = null;
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await swarm?.close();
      await ShoalNode.close(root, node);
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      progress(`${sig}: cleaning up`);
      void close().finally(() => process.exit(130));
    });
  }
  try {
    const needImage = runtimes.includes('oci') || o.peer === 'swarm';
    const tarball = needImage ? busyboxRootfs().tarball : '';
    const live = (node = await ShoalNode.up(root, oci.binary));
    if (runtimes.includes('oci')) await live.importImage(tarball);
    if (o.peer === 'swarm') {
      try {
        swarm = await SwarmPeer.start(tarball);
      } catch (err) {
        progress(`the swarm peer could not start, its figures will be null: ${(err as Error).message}`);
      }
    }
    // The bench's own deletions (and whatever this machine deleted just before) must not be timed.
    const fsSettle = new FsSettle(o.settle ? deletionPenalty(root) : null, progress);
    if (fsSettle.why) progress(`timing each start ${DELETION_WINDOW_MS / 1000} s after the last deletion (--no-settle: back to back): ${fsSettle.why}`);
    fsSettle.deleted();
    const peer = swarm;
    const swarmFigures = new Map<number, SwarmFigures>();
    for (const runtime of runtimes) {
      for (const n of o.ns) {
        let line: Record<string, unknown>;
        try {
          line = await fsSettle.timed(() => measure(live, runtime, n, o));
        } catch (err) {
          progress(`${runtime} N=${n} failed: ${(err as Error).message}`);
          // The create may have gone through after all: the next phase must not find its tasks.
          if (!(await node.remove(serviceName(runtime, n), 180_000))) progress(`  ${serviceName(runtime, n)} could not be removed within 180 s`);
          fsSettle.deleted();
          line = { runtime, n, all_running_ms: null, mb_per_task: null, pss_mb_per_task: null, idle_cpu_pct: null, restarts_in_120s: null, node_down_events: null, error: (err as Error).message };
        }
        if (runtime === 'oci') {
          line.oci_runtime = oci.binary;
          // The runtime's own cost on this machine, with no orchestrator: Shoal's figure read against it.
          const lower = imageRootfs(node.dataDir);
          const bin = oci.binary ? which(oci.binary) : null;
          progress(`  ${oci.binary} alone, N=${n} in 2 lanes (mount + run --detach)`);
          line.oci_floor_ms = lower && bin ? await fsSettle.timed(() => ociFloorMs(bin, lower, n)) : null;
          progress(`  ${oci.binary} through the forker's libcrun path, N=${n} in 2 lanes (mount + run)`);
          line.oci_floor_libcrun_ms = lower && bin ? await fsSettle.timed(() => ociFloorLibcrunMs(bin, lower, n)) : null;
          progress(`  the same with Shoal's container configuration, N=${n}`);
          line.oci_floor_libcrun_full_ms = lower && bin ? await fsSettle.timed(() => ociFloorLibcrunMs(bin, lower, n, 'shoal')) : null;
        }
        if (o.peer === 'swarm') {
          if (!swarmFigures.has(n)) {
            progress(`swarm N=${n}`);
            swarmFigures.set(
              n,
              peer
                ? await fsSettle.timed(() => peer.measure(n, { deadlineMs: o.deadlineMs, pollMs: POLL_MS, settleMs: SETTLE_MS })).catch((err: Error) => {
                    progress(`swarm N=${n} failed: ${err.message}`);
                    return NO_SWARM;
                  })
                : NO_SWARM,
            );
          }
          Object.assign(line, swarmFigures.get(n));
        }
        line.fs_settle_s = fsSettle.why ? DELETION_WINDOW_MS / 1000 : 0;
        process.stdout.write(JSON.stringify(line) + '\n');
      }
    }
  } finally {
    await close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:density failed: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
