/**
 * A real cluster under test: ProcCluster processes started through the
 * harness's CLI (so each carries the fault hooks and serves its chaos
 * control socket: node/hooks.ts), with the
 * harness's bookkeeping around them — node ids, which processes we killed
 * or paused (so an exit we did not cause is a crash), the partition in
 * force (re-sent to a node that restarts), and the tmpfs data dir of the
 * manager that runs out of space.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { harnessCli, ProcCluster, type NodeProc } from './harness/proc-cluster.js';
import { waitFor } from './harness/wait.js';
import { control, type ControlCommand, type NodeStatus } from './control.js';
import { request, type Outcome } from './http.js';
import { ChaosError } from './errors.js';
import type { DiskFault } from './faults/disk.js';
import type { NetnsLab } from './netns.js';

export interface ChaosNode {
  name: string;
  id: string;
  role: 'manager' | 'worker';
  proc: NodeProc;
  /** SIGSTOPped by us and not yet continued. */
  paused: boolean;
  /** Exits we caused (SIGKILL): any exit beyond these is a crash. */
  killsByUs: number;
}

export interface ClusterOptions {
  managers: number;
  workers: number;
  subnet?: number;
  /** Environment for every node (SHOAL_CHAOS_BREAK for the self-test). */
  env?: Record<string, string>;
  /** Puts the last manager's data dir on a small tmpfs (root only), for the disk-full fault. */
  disk?: DiskFault | null;
  /** --netns: each node in its own network namespace; partitions cut real links. */
  netns?: NetnsLab | null;
  log: (msg: string) => void;
}

export type PartitionSpec = { from: string[]; to: string[] }[];

export class ChaosCluster {
  readonly nodes: ChaosNode[] = [];
  /** The partition in force (empty: none), re-sent to nodes that come back. */
  private partition: PartitionSpec = [];

  private constructor(
    readonly pc: ProcCluster,
    private readonly log: (msg: string) => void,
    /** The tmpfs under the last manager's data dir, when the disk-full fault is on. */
    readonly disk: DiskFault | null,
    readonly netns: NetnsLab | null,
  ) {}

  static async start(o: ClusterOptions): Promise<ChaosCluster> {
    if (o.managers < 1) throw new ChaosError('USAGE', '--managers must be at least 1');
    const lab = o.netns ?? null;
    // Nodes start through the harness's CLI, whose node commands install the fault hooks (chaos-tests/node/hooks.ts).
    const pc = new ProcCluster(o.subnet, { ...o.env }, { cli: harnessCli, ...(lab ? { host: (i: number) => lab.host(i), wrap: (i: number) => lab.wrap(i) } : {}) });
    const c = new ChaosCluster(pc, o.log, o.disk ?? null, lab);
    try {
      await lab?.setup(o.managers + o.workers);
      const first = await pc.init();
      c.add(first, 'manager', /current node \((\w+)\)/);
      for (let i = 1; i < o.managers; i++) {
        const last = i === o.managers - 1;
        const p = await pc.join('manager', first, last && o.disk ? { prepare: (n) => o.disk!.mount(n.dataDir) } : {});
        c.add(p, 'manager', /\(node (\w+)\)/);
      }
      for (let i = 0; i < o.workers; i++) c.add(await pc.join('worker', first), 'worker', /\(node (\w+)\)/);
      await c.settle();
    } catch (err) {
      await c.close().catch(() => {});
      throw new ChaosError('SETUP', `could not start the cluster: ${(err as Error).message}`);
    }
    return c;
  }

  private add(p: NodeProc, role: 'manager' | 'worker', idRe: RegExp): void {
    const m = idRe.exec(p.stdout);
    if (!m) throw new ChaosError('SETUP', `${p.name} did not print its node id`);
    this.nodes.push({ name: p.name, id: m[1]!, role, proc: p, paused: false, killsByUs: 0 });
  }

  /** Every node ready, every manager a reachable voter, and the managers drained so tasks run on workers only. */
  private async settle(): Promise<void> {
    const first = this.managers()[0]!;
    type N = { ID: string; Version: { Index: number }; Spec: { Availability: string }; Status: { State: string }; ManagerStatus?: { Reachability: string } };
    await waitFor(
      async () => {
        const r = await this.api(first, 'GET', '/nodes', undefined, 2_000);
        if (r.kind !== 'ok') return false;
        const ns = r.body as N[];
        return ns.length === this.nodes.length && ns.every((n) => n.Status.State === 'ready' && (!n.ManagerStatus || n.ManagerStatus.Reachability === 'reachable'));
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `${this.nodes.length} ready nodes with every manager reachable` },
    );
    await waitFor(async () => (await Promise.all(this.managers().map((m) => this.status(m)))).every((s) => s?.raft && s.raft.leaderId && s.raft.applied > 0), {
      timeoutMs: 30_000,
      what: 'every manager following a leader',
    });
    if (this.workers().length === 0) return;
    for (const m of this.managers()) {
      await waitFor(
        async () => {
          const n = await this.api(first, 'GET', `/nodes/${m.id}`, undefined, 2_000);
          if (n.kind !== 'ok') return false;
          const node = n.body as N;
          if (node.Spec.Availability === 'drain') return true;
          await this.api(first, 'POST', `/nodes/${m.id}/update?version=${node.Version.Index}`, { ...node.Spec, Availability: 'drain' }, 3_000);
          return false;
        },
        { timeoutMs: 20_000, what: `${m.name} drained` },
      );
    }
  }

  managers(): ChaosNode[] {
    return this.nodes.filter((n) => n.role === 'manager');
  }

  workers(): ChaosNode[] {
    return this.nodes.filter((n) => n.role === 'worker');
  }

  byId(id: string): ChaosNode | undefined {
    return this.nodes.find((n) => n.id === id);
  }

  /** Running and not paused: able to answer. */
  up(n: ChaosNode): boolean {
    return n.proc.proc !== null && !n.paused;
  }

  api(n: ChaosNode, method: string, p: string, body?: unknown, timeoutMs = 3_000): Promise<Outcome> {
    const tls = this.pc.clientTls();
    if (!tls) return Promise.resolve({ kind: 'fail', status: 0, body: 'no admin bundle yet' });
    return request({ host: n.proc.host, port: n.proc.apiPort, tls }, method, p, body, timeoutMs);
  }

  /**
   * A fault command to one node. 5 s by default: a manager that just came back from a crash, on a
   * loaded machine, took over a second to answer (a clock jump was skipped for that on a fresh
   * clone, seed 110913). Liveness polls (status) pass their own short timeout.
   */
  control<T = { ok: boolean; error?: string }>(n: ChaosNode, cmd: ControlCommand, timeoutMs = 5_000): Promise<T | null> {
    if (!n.proc.proc) return Promise.resolve(null);
    return control<T>(n.proc.dataDir, cmd, timeoutMs);
  }

  status(n: ChaosNode, timeoutMs = 800): Promise<NodeStatus | null> {
    return this.up(n) ? this.control<NodeStatus>(n, { cmd: 'status' }, timeoutMs) : Promise.resolve(null);
  }

  /** The manager that says it leads with the highest term, among those that answer. */
  async leader(): Promise<ChaosNode | null> {
    const st = await Promise.all(this.managers().map(async (m) => ({ m, s: await this.status(m) })));
    const leaders = st.filter((x) => x.s?.raft?.isLeader).sort((a, b) => b.s!.raft!.term - a.s!.raft!.term);
    return leaders[0]?.m ?? null;
  }

  async waitLeader(timeoutMs: number): Promise<ChaosNode | null> {
    try {
      return await waitFor(() => this.leader(), { timeoutMs, intervalMs: 100, what: 'a leader' });
    } catch {
      return null;
    }
  }

  /** Asks the leader to hand leadership to `to`; null when done, else why not. */
  async transferLeadership(to: ChaosNode): Promise<string | null> {
    const l = await this.leader();
    if (!l) return 'no leader';
    if (l === to) return null;
    const r = await this.control(l, { cmd: 'transfer', to: to.id }, 6_000);
    return r?.ok ? null : `transfer to ${to.name}: ${r?.error ?? 'no answer'}`;
  }

  // ------------------------------------------------------------- faults

  async kill(n: ChaosNode): Promise<void> {
    if (!n.proc.proc) return;
    n.killsByUs++;
    if (n.paused) this.pc.resume(n.proc);
    n.paused = false;
    // A kill is a machine crash: the daemon and its task supervisor (and so every task) at once.
    await this.pc.crash(n.proc);
  }

  /** Starts a killed node again from its data dir, and hands it the partition in force (in a namespace, the rules stayed there). */
  async restart(n: ChaosNode): Promise<void> {
    if (n.proc.proc) return;
    await this.pc.restart(n.proc);
    if (this.partition.length > 0 && !this.netns) await this.pushPartition([n]);
  }

  pause(n: ChaosNode): void {
    if (!n.proc.proc || n.paused) return;
    // A pause freezes the whole machine: daemon, supervisor and tasks.
    this.pc.pause(n.proc);
    n.paused = true;
  }

  async resume(n: ChaosNode): Promise<void> {
    if (!n.proc.proc || !n.paused) return;
    this.pc.resume(n.proc);
    n.paused = false;
    // A command sent while it was stopped may or may not have landed: say it again.
    if (!this.netns) await this.pushPartition([n]);
  }

  /** Replaces the partition on every node (one-way blocks; give both directions for a symmetric cut). */
  async setPartition(spec: PartitionSpec): Promise<void> {
    this.partition = spec;
    if (this.netns) {
      const idx = (id: string) => Number(this.byId(id)!.name.slice(1));
      await this.netns.block(spec.map((b) => ({ from: b.from.map(idx), to: b.to.map(idx) })));
      return;
    }
    await this.pushPartition(this.nodes);
  }

  /** Cuts `n` off from every other node, both ways (with --netns: its link goes down, clients lose it too). */
  async isolate(n: ChaosNode): Promise<void> {
    const others = this.nodes.filter((x) => x !== n).map((x) => x.id);
    if (this.netns) {
      this.partition = [{ from: [n.id], to: others }];
      await this.netns.linkDown(Number(n.name.slice(1)));
      return;
    }
    await this.setPartition([
      { from: [n.id], to: others },
      { from: others, to: [n.id] },
    ]);
  }

  private async pushPartition(to: ChaosNode[]): Promise<void> {
    const addrs = Object.fromEntries(this.nodes.map((n) => [n.id, `${n.proc.host}:${n.proc.port}`]));
    await Promise.all(
      to
        .filter((n) => this.up(n))
        .map(async (n) => {
          const r = this.partition.length === 0 ? await this.control(n, { cmd: 'heal' }) : await this.control(n, { cmd: 'partition', blocks: this.partition, addrs });
          if (!r?.ok) this.log(`chaos: ${n.name} did not take the partition command${r?.error ? `: ${r.error}` : ''}`);
        }),
    );
  }

  // ----------------------------------------------------------- teardown

  /** Copies every node's output into `dir` (kept with the report). */
  saveLogs(dir: string): void {
    mkdirSync(dir, { recursive: true });
    for (const n of this.nodes) {
      writeFileSync(path.join(dir, `${n.name}.stdout.log`), n.proc.stdout);
      writeFileSync(path.join(dir, `${n.name}.stderr.log`), n.proc.stderr);
    }
  }

  /** Kills every process, unmounts the tmpfs, removes the data dirs (which ends the tasks: their supervisors see their state go). */
  async close(): Promise<void> {
    for (const n of this.nodes) if (n.paused) this.pc.resume(n.proc);
    await Promise.all(this.pc.nodes.map((n) => this.pc.kill(n, 'SIGKILL')));
    await this.disk?.unmount().catch((err: Error) => this.log(`chaos: unmounting the tmpfs: ${err.message}`));
    await this.pc.close();
    await this.netns?.teardown().catch((err: Error) => this.log(`chaos: removing the namespaces: ${err.message}`));
  }

  /** The manager whose data dir is the tmpfs. */
  diskNode(): ChaosNode | null {
    return this.disk ? (this.managers().find((m) => m.proc.dataDir === this.disk!.dir) ?? null) : null;
  }
}
