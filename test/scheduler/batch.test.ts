/**
 * Batch placement: equivalence with a naive reference scheduler on random
 * clusters (placements and reasons, over several rounds with tasks finishing
 * and nodes changing), determinism, many tasks at once, and the batching
 * itself (one filter pass per group, static passes shared).
 */
import t, { type Test } from 'tap';
import type { Node, Task } from '../../src/model/index.js';
import { Scheduler } from '../../src/scheduler/index.js';
import type { HostPort, ScheduleResult, Strategy } from '../../src/scheduler/interface.js';
import { seededRng, type Rng } from '../../src/util/rng.js';
import { CPU, histogram, MiB, node, task, tasks, type TaskOpts } from './fixtures.js';
import { ReferenceScheduler, type RefHints } from './reference.js';

function randomNode(rng: Rng, id: string): Node {
  const labels: Record<string, string> = {};
  if (rng.chance(0.8)) labels.zone = rng.pick(['a', 'b', 'c']);
  if (rng.chance(0.8)) labels.rack = rng.pick(['1', '2']);
  if (rng.chance(0.5)) labels.disk = rng.pick(['ssd', 'hdd']);
  const r = rng.next();
  return node(id, {
    cpus: rng.range(1, 8),
    memGiB: rng.range(1, 16),
    labels,
    state: r < 0.05 ? 'down' : r < 0.08 ? 'unknown' : 'ready',
    availability: rng.chance(0.08) ? rng.pick(['drain', 'pause'] as const) : 'active',
    role: rng.chance(0.2) ? 'manager' : 'worker',
    platform: { OS: 'linux', Architecture: rng.chance(0.8) ? 'x86_64' : 'aarch64' },
    ...(rng.chance(0.5) ? { runtimes: rng.chance(0.5) ? ['process', 'oci', 'docker'] : ['process'] } : {}),
  });
}

interface Svc {
  id: string;
  opts: TaskOpts;
  hints: RefHints;
}

function randomService(rng: Rng, id: string): Svc {
  const opts: TaskOpts = { service: id };
  if (rng.chance(0.7)) opts.cpu = rng.pick([0.25, 0.5, 1, 2]);
  if (rng.chance(0.7)) opts.memMiB = rng.pick([256, 512, 1024, 4096]);
  if (rng.chance(0.4)) {
    opts.constraints = [rng.pick(['node.labels.zone==a', 'node.labels.zone!=b', 'node.role==worker', 'node.labels.disk==ssd', 'node.platform.arch==amd64'])];
    if (rng.chance(0.3)) opts.constraints.push('node.labels.rack!=2');
  }
  if (rng.chance(0.4)) opts.spread = rng.chance(0.5) ? ['node.labels.zone'] : ['node.labels.zone', 'node.labels.rack'];
  if (rng.chance(0.3)) opts.maxReplicas = rng.range(1, 3);
  if (rng.chance(0.1)) opts.platforms = [{ OS: 'linux', Architecture: 'arm64' }];
  if (rng.chance(0.15)) opts.runtime = rng.pick(['docker', 'oci']);
  const hints: RefHints = {};
  if (rng.chance(0.3)) hints.strategy = rng.pick(['binpack', 'spread'] as const);
  if (rng.chance(0.15)) hints.hostPorts = [{ port: rng.pick([80, 443]), protocol: 'tcp' }];
  return { id, opts, hints };
}

/** The reference's reason keys in the real scheduler's words. */
function phrase(key: string): string {
  const [k, v] = [key.slice(0, key.indexOf(':') >>> 0), key.slice(key.indexOf(':') + 1)];
  if (key === 'cpu') return 'insufficient cpu';
  if (key === 'mem') return 'insufficient memory';
  if (key === 'platform') return 'unsupported platform';
  switch (k) {
    case 'state':
      return v === 'unknown' ? 'node state unknown' : `node ${v}`;
    case 'avail':
      return v === 'drain' ? 'node drained' : 'node paused';
    case 'runtime':
      return `runtime ${v} not available`;
    case 'constraint':
      return `constraint ${v} not met`;
    case 'port': {
      const [proto, port] = v.split('/');
      return `host port ${port}/${proto} in use`;
    }
  }
  throw new Error(`unknown reference reason ${key}`);
}

function parseReason(reason: string): Map<string, number> {
  const m = new Map<string, number>();
  if (reason === 'no suitable node (no nodes available)') return m;
  const inner = /^no suitable node \((.*)\)$/.exec(reason)![1]!;
  for (const part of inner.split('; ')) {
    const r = /^(.*) on (\d+) nodes?$/.exec(part)!;
    m.set(r[1]!.replace(/^max replicas per node \(\d+\) reached$/, 'maxrep'), Number(r[2]));
  }
  return m;
}

const checked = { placements: 0, reasons: 0, indexedGroups: 0, groups: 0 };

function scenario(seed: number, t: Test): void {
  const rng = seededRng(seed);
  const strategy: Strategy = rng.chance(0.5) ? 'binpack' : 'spread';
  // Thirds: shared indexes whenever allowed, never, or by the default cost rule.
  const indexCostRatio = [0, Infinity, 4][seed % 3]!;
  const s = new Scheduler({ strategy, checkInvariants: true, maxReasons: 100, indexCostRatio });
  const ref = new ReferenceScheduler(strategy);
  const nodeIds = Array.from({ length: rng.range(1, 25) }, (_, i) => `n${(i * 7919) % 1000}`);
  for (const id of nodeIds) {
    const n = randomNode(rng, id);
    s.upsertNode(n);
    ref.nodes.set(id, n);
  }
  // Half the services copy another's spec (as services of one stack often do), so groups share indexes.
  const services: Svc[] = [];
  for (let i = 0, n = rng.range(1, 10); i < n; i++) {
    if (i > 0 && rng.chance(0.5)) {
      const like = rng.pick(services);
      services.push({ id: `s${i}`, opts: { ...like.opts, service: `s${i}` }, hints: like.hints });
    } else services.push(randomService(rng, `s${i}`));
  }
  const hints = new Map(services.map((x) => [x.id, x.hints]));
  let next = 0;
  const live: Task[] = [];
  for (let round = 0; round < 6; round++) {
    const pending: Task[] = [];
    const count = rng.int(40);
    for (let i = 0; i < count; i++) {
      const svc = rng.pick(services);
      pending.push(task(`t${next++}`, svc.opts));
    }
    const order: Task[][] = [];
    const bySvc = new Map<string, Task[]>();
    for (const p of pending) {
      let g = bySvc.get(p.ServiceID);
      if (!g) { bySvc.set(p.ServiceID, (g = [])); order.push(g); }
      g.push(p);
    }
    const got = s.schedule(pending, hints as Map<string, { strategy?: Strategy; hostPorts?: HostPort[] }>);
    const want = ref.schedule(order, hints);
    // Assert only on a difference, so 150 seeds do not print 5,000 passing lines.
    const at = `seed ${seed} round ${round}`;
    if (JSON.stringify(got.placed) !== JSON.stringify(want.placed)) t.same(got.placed, want.placed, `${at}: placements`);
    const gotIds = got.unplaced.map((u) => u.taskId);
    const wantIds = want.unplaced.map((u) => u.taskId);
    if (JSON.stringify(gotIds) !== JSON.stringify(wantIds)) t.same(gotIds, wantIds, `${at}: unplaced`);
    for (let i = 0; i < Math.min(got.unplaced.length, want.unplaced.length); i++) {
      const exp = new Map([...want.unplaced[i]!.reasons].map(([k, n]) => [k === 'maxrep' ? 'maxrep' : phrase(k), n]));
      const have = parseReason(got.unplaced[i]!.reason);
      if (JSON.stringify([...have].sort()) !== JSON.stringify([...exp].sort())) t.same(have, exp, `${at}: reason of ${got.unplaced[i]!.taskId}`);
      checked.reasons++;
    }
    checked.placements += got.placed.length;
    for (const p of got.placed) {
      const tk = pending.find((x) => x.ID === p.taskId)!;
      live.push({ ...tk, NodeID: p.nodeId, Status: { ...tk.Status, State: 'running' } });
    }
    // Between rounds: some tasks finish, some nodes change or go away.
    for (let i = 0; i < live.length; i++) {
      if (!rng.chance(0.3)) continue;
      const [gone] = live.splice(i--, 1);
      if (rng.chance(0.5)) s.taskRemoved(gone!);
      else s.taskAssigned({ ...gone!, Status: { ...gone!.Status, State: 'complete' } });
      ref.held.delete(gone!.ID);
    }
    for (const id of nodeIds) {
      if (!rng.chance(0.1)) continue;
      if (rng.chance(0.3) && ref.nodes.has(id)) {
        s.removeNode(id);
        ref.nodes.delete(id);
      } else {
        const n = randomNode(rng, id);
        s.upsertNode(n);
        ref.nodes.set(id, n);
      }
    }
  }
  checked.indexedGroups += s.metrics.indexedGroups;
  checked.groups += s.metrics.groups;
}

t.test('same placements and reasons as the naive reference, on random clusters', async (t) => {
  const seeds = Number(process.env.SCHED_SEEDS ?? 150);
  for (let seed = 1; seed <= seeds; seed++) scenario(seed, t);
  t.ok(checked.placements > 1000 && checked.reasons > 200, `compared ${checked.placements} placements and ${checked.reasons} reasons over ${seeds} seeds`);
  const byPass = checked.groups - checked.indexedGroups;
  t.ok(checked.indexedGroups > 200 && byPass > 200, `both paths ran: ${checked.indexedGroups} groups through shared indexes, ${byPass} by a pass over the nodes`);
});

function bigCluster(seed: number, shuffleNodes: boolean): { s: Scheduler; pending: Task[]; nodes: Node[] } {
  const rng = seededRng(seed);
  const nodes = Array.from({ length: 200 }, (_, i) => randomNode(rng, `node-${i}`));
  const services = Array.from({ length: 40 }, (_, i) => randomService(rng, `svc-${i}`));
  const pending: Task[] = [];
  for (let i = 0; i < 2000; i++) pending.push(task(`t${i}`, services[i % services.length]!.opts));
  const s = new Scheduler({ checkInvariants: false });
  const order = shuffleNodes ? seededRng(seed + 99).shuffle([...nodes]) : nodes;
  for (const n of order) s.upsertNode(n);
  return { s, pending, nodes };
}

t.test('determinism: same input, same output, whatever the order nodes were added in', async (t) => {
  const a = bigCluster(7, false);
  const b = bigCluster(7, false);
  const c = bigCluster(7, true);
  const ra: ScheduleResult = a.s.schedule(a.pending);
  t.same(b.s.schedule(b.pending), ra, 'two runs');
  t.same(c.s.schedule(c.pending), ra, 'nodes upserted in another order');
  // Repeat schedule() on the same instance after releasing everything: same again.
  for (const p of ra.placed) a.s.taskRemoved({ ID: p.taskId });
  t.same(a.s.schedule(a.pending), ra, 'after releasing the batch');
});

t.test('many tasks in one batch: capacity never exceeded, filters run once per group', async (t) => {
  const { s, pending, nodes } = bigCluster(3, false);
  const r = s.schedule(pending);
  t.equal(r.placed.length + r.unplaced.length, pending.length, 'every task has an answer');
  t.ok(r.placed.length > 1000, `most tasks placed (${r.placed.length})`);
  const over = nodes.filter((n) => {
    const u = s.usage(n.ID);
    return u && (u.nanoCPUs > n.Description.Resources.NanoCPUs! || u.memoryBytes > n.Description.Resources.MemoryBytes!);
  });
  t.same(over.map((n) => n.ID), [], 'no node over capacity');
  t.equal(s.metrics.groups, 40, 'one group per service');
  t.ok(s.metrics.staticPasses <= 40, 'at most one static pass per group');
  t.ok(s.metrics.staticReuses > 0, 'groups with equal constraints share a pass');
  t.equal(s.metrics.dynamicChecks <= 40 * nodes.length, true, 'dynamic filters at most once per node per group');
  t.equal(s.metrics.tasksPlaced, r.placed.length);
  t.equal(s.metrics.tasksUnplaced + s.metrics.tasksInvalid, r.unplaced.length);
  s.verify();
});

t.test('10,000 replicas of one service on 100 nodes: balanced, each node filled to its limit', async (t) => {
  const s = new Scheduler({ strategy: 'spread' });
  for (let i = 0; i < 100; i++) s.upsertNode(node(`n${String(i).padStart(3, '0')}`, { cpus: 64, memGiB: 64 }));
  const r = s.schedule(tasks(10_000, { cpu: 0.5, memMiB: 256 }));
  t.equal(r.placed.length, 10_000);
  const h = Object.values(histogram(r.placed));
  t.same([Math.min(...h), Math.max(...h)], [100, 100]);
  const b = new Scheduler();
  for (let i = 0; i < 100; i++) b.upsertNode(node(`n${String(i).padStart(3, '0')}`, { cpus: 4, memGiB: 64 }));
  const rb = b.schedule(tasks(1_000, { cpu: 0.5, memMiB: 256 }));
  t.equal(rb.placed.length, 800, '8 per 4-CPU node');
  t.equal(rb.unplaced[0]!.reason, 'no suitable node (insufficient cpu on 100 nodes)');
  t.equal(b.usage('n000')!.nanoCPUs, 4 * CPU);
  t.equal(b.usage('n000')!.memoryBytes, 8 * 256 * MiB);
});
