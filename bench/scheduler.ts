/**
 * `npm run bench:scheduler`: batch placement speed.
 *
 * Two clusters, generated from a seed:
 *   10,000 pending tasks on 1,000 nodes (300 services)
 *   100,000 pending tasks on 10,000 nodes (500 services)
 * Nodes vary in size (2–64 CPUs, 4–256 GiB), zone, rack, disk and role labels;
 * ~2% are down and ~1% drained. Services reserve 0–4 CPUs and 0–8 GiB (the
 * batch asks for about two thirds of the cluster's CPUs); about a
 * third carry constraints, a fifth spread over zones, some set MaxReplicas,
 * a few publish host ports; a tenth use the spread strategy. Before each timed
 * run the cluster already holds 5 running tasks per node (counted through
 * taskAssigned, untimed); the timed part is the one schedule() call over the
 * whole pending batch, on a fresh scheduler, after a warm-up run.
 *
 * A third line (not in the JSON) shows many small groups: 10,000 tasks of
 * 5,000 services on 10,000 nodes, which the shared indexes serve.
 *
 * Prints one summary line per size, then as the LAST line one JSON object:
 *   tasks_10k_nodes_1k_ms, tasks_100k_nodes_10k_ms: median schedule() time;
 *   placements_per_s: tasks placed per second in the 100k run.
 * Optional: --seed N (default 1), --runs N (default 5).
 */
import type { Node, Task } from '../src/model/index.js';
import { Scheduler } from '../src/scheduler/index.js';
import type { ServiceHints, Strategy } from '../src/scheduler/interface.js';
import { seededRng, type Rng } from '../src/util/rng.js';
import { CPU, GiB, node, task } from '../test/scheduler/fixtures.js';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const seed = arg('--seed', 1);
const runs = arg('--runs', 5);

interface Cluster {
  nodes: Node[];
  existing: Task[];
  pending: Task[];
  hints: Map<string, ServiceHints>;
}

const ZONES = ['z1', 'z2', 'z3', 'z4', 'z5', 'z6'];

function makeNodes(rng: Rng, n: number): Node[] {
  const shapes = [
    { cpus: 2, memGiB: 4 },
    { cpus: 4, memGiB: 16 },
    { cpus: 8, memGiB: 32 },
    { cpus: 16, memGiB: 64 },
    { cpus: 32, memGiB: 128 },
    { cpus: 64, memGiB: 256 },
  ];
  const out: Node[] = [];
  for (let i = 0; i < n; i++) {
    const shape = shapes[Math.min(shapes.length - 1, Math.floor(rng.next() ** 1.5 * shapes.length))]!;
    const r = rng.next();
    out.push(
      node(`node-${i.toString(36).padStart(4, '0')}`, {
        ...shape,
        labels: {
          zone: rng.pick(ZONES),
          rack: `r${rng.int(Math.max(1, Math.floor(n / 20)))}`,
          disk: rng.chance(0.4) ? 'ssd' : 'hdd',
          ...(rng.chance(0.1) ? { gpu: 'true' } : {}),
        },
        engineLabels: { kernel: rng.chance(0.8) ? '6.1' : '5.10' },
        role: i % 100 < 3 ? 'manager' : 'worker',
        state: r < 0.02 ? 'down' : 'ready',
        availability: r > 0.99 ? 'drain' : 'active',
        platform: { OS: 'linux', Architecture: rng.chance(0.9) ? 'x86_64' : 'aarch64' },
        runtimes: rng.chance(0.7) ? ['process', 'oci', 'docker'] : ['process', 'oci'],
      }),
    );
  }
  return out;
}

interface ServiceShape {
  id: string;
  cpu: number;
  memMiB: number;
  constraints?: string[];
  spread?: string[];
  maxReplicas?: number;
  runtime?: string;
  strategy?: Strategy;
  hostPort?: number;
}

function makeServices(rng: Rng, n: number): ServiceShape[] {
  const cpus = [0, 0.1, 0.25, 0.5, 1, 1, 2, 4];
  const mems = [0, 128, 256, 512, 1024, 2048, 4096, 8192];
  const constraintSets = [
    ['node.labels.disk==ssd'],
    ['node.role==worker'],
    ['node.labels.zone!=z3'],
    ['node.labels.zone==z1'],
    ['node.role == worker', 'node.labels.disk == "ssd"'],
    ['node.platform.arch==amd64'],
    ['engine.labels.kernel==6.1'],
    ['node.labels.gpu==true'],
  ];
  const out: ServiceShape[] = [];
  for (let i = 0; i < n; i++) {
    const k = rng.int(cpus.length);
    const s: ServiceShape = { id: `svc-${i}`, cpu: cpus[k]!, memMiB: mems[Math.min(mems.length - 1, k + rng.range(-1, 1))] ?? 0 };
    if (rng.chance(0.33)) s.constraints = rng.pick(constraintSets);
    if (rng.chance(0.2)) s.spread = ['node.labels.zone'];
    if (rng.chance(0.1)) s.maxReplicas = rng.range(2, 6);
    if (rng.chance(0.1)) s.runtime = 'docker';
    if (rng.chance(0.1)) s.strategy = 'spread';
    if (rng.chance(0.02)) s.hostPort = 8000 + i;
    out.push(s);
  }
  return out;
}

function makeCluster(nodeCount: number, taskCount: number, serviceCount: number): Cluster {
  const rng = seededRng(seed * 1_000_003 + nodeCount);
  const nodes = makeNodes(rng, nodeCount);
  const services = makeServices(rng, serviceCount);
  // Zipf-ish service sizes: a few big services, a long tail of small ones.
  const weights = services.map((_, i) => 1 / (i + 1) ** 0.6);
  const total = weights.reduce((a, b) => a + b, 0);
  const hints = new Map<string, ServiceHints>();
  for (const s of services) {
    const h: ServiceHints = {};
    if (s.strategy) h.strategy = s.strategy;
    if (s.hostPort) h.hostPorts = [{ port: s.hostPort, protocol: 'tcp' }];
    hints.set(s.id, h);
  }
  const mk = (id: string, s: ServiceShape, nodeId?: string): Task =>
    task(id, {
      service: s.id,
      cpu: s.cpu,
      memMiB: s.memMiB,
      ...(s.constraints ? { constraints: s.constraints } : {}),
      ...(s.spread ? { spread: s.spread } : {}),
      ...(s.maxReplicas ? { maxReplicas: s.maxReplicas } : {}),
      ...(s.runtime ? { runtime: s.runtime } : {}),
      ...(nodeId ? { nodeId } : {}),
    });
  const pending: Task[] = [];
  for (let i = 0; i < services.length; i++) {
    const s = services[i]!;
    const replicas = Math.max(1, Math.round((weights[i]! / total) * taskCount));
    for (let r = 0; r < replicas && pending.length < taskCount; r++) pending.push(mk(`${s.id}.${r}`, s));
  }
  for (let i = 0; pending.length < taskCount; i++) pending.push(mk(`extra.${i}`, services[i % services.length]!));
  // Small existing load: 5 small running tasks of unrelated services per ready node.
  const existing: Task[] = [];
  for (const n of nodes) {
    if (n.Status.State !== 'ready') continue;
    for (let j = 0; j < 5; j++) {
      existing.push(task(`old.${n.ID}.${j}`, { service: `old-${j}`, cpu: 0.1, memMiB: 128, nodeId: n.ID }));
    }
  }
  return { nodes, existing, pending, hints };
}

interface RunResult {
  ms: number;
  /** CPU time of the schedule() call: less disturbed than wall time when other processes share the cores. */
  cpuMs: number;
  placed: number;
  unplaced: number;
  setupMs: number;
  nodesUsed: number;
  groups: number;
  indexedGroups: number;
  example: string;
}

function runOnce(c: Cluster): RunResult {
  const t0 = performance.now();
  const s = new Scheduler();
  for (const n of c.nodes) s.upsertNode(n);
  for (const t of c.existing) s.taskAssigned(t);
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  const r = s.schedule(c.pending, c.hints);
  const c2 = process.cpuUsage(c1);
  const t2 = performance.now();
  const used = new Set(r.placed.map((p) => p.nodeId));
  return { ms: t2 - t1, cpuMs: (c2.user + c2.system) / 1000, placed: r.placed.length, unplaced: r.unplaced.length, setupMs: t1 - t0, nodesUsed: used.size, groups: s.metrics.groups, indexedGroups: s.metrics.indexedGroups, example: r.unplaced[0]?.reason ?? '' };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function bench(label: string, nodes: number, taskCount: number, services: number, n: number): RunResult & { median: number } {
  const c = makeCluster(nodes, taskCount, services);
  runOnce(c); // warm-up: JIT, inline caches
  const results: RunResult[] = [];
  for (let i = 0; i < n; i++) results.push(runOnce(c));
  const times = results.map((r) => r.ms);
  const last = results[results.length - 1]!;
  const cap = c.nodes.reduce((a, x) => a + (x.Description.Resources.NanoCPUs ?? 0), 0) / CPU;
  const want = c.pending.reduce((a, t) => a + (t.Spec.Resources?.Reservations?.NanoCPUs ?? 0), 0) / CPU;
  const wantMem = c.pending.reduce((a, t) => a + (t.Spec.Resources?.Reservations?.MemoryBytes ?? 0), 0) / GiB;
  const capMem = c.nodes.reduce((a, x) => a + (x.Description.Resources.MemoryBytes ?? 0), 0) / GiB;
  console.log(
    `${label}: ${taskCount} tasks (${services} services, ${last.groups} groups, ${last.indexedGroups} through shared indexes) on ${nodes} nodes: ` +
      `median ${median(times).toFixed(1)} ms [${times.map((x) => x.toFixed(1)).join(', ')}], ` +
      `cpu median ${median(results.map((r) => r.cpuMs)).toFixed(1)} ms, ` +
      `placed ${last.placed}, unplaced ${last.unplaced}, nodes used ${last.nodesUsed}; ` +
      `reserved ${want.toFixed(0)}/${cap.toFixed(0)} CPUs, ${wantMem.toFixed(0)}/${capMem.toFixed(0)} GiB; ` +
      `setup (upserts + ${c.existing.length} taskAssigned) ${last.setupMs.toFixed(0)} ms`,
  );
  if (last.example) console.log(`  e.g. ${last.example}`);
  return { ...last, median: median(times) };
}

const small = bench('10k/1k', 1_000, 10_000, 300, runs);
const large = bench('100k/10k', 10_000, 100_000, 500, Math.max(3, Math.min(runs, 5)));
// Not in the JSON: many small groups (a stack deploy, a node failure displacing one task of each of many services).
bench('small groups', 10_000, 10_000, 5_000, 3);
console.log(
  JSON.stringify({
    tasks_10k_nodes_1k_ms: Number(small.median.toFixed(1)),
    tasks_100k_nodes_10k_ms: Number(large.median.toFixed(1)),
    placements_per_s: Math.round(large.placed / (large.median / 1000)),
  }),
);
