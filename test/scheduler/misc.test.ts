/**
 * Options, caller errors, the heap, host port helpers, placement validation
 * for the API layer, and the scheduler's purity (no clock, no randomness).
 */
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Heap } from '../../src/scheduler/heap.js';
import { hostPortsOf, isSchedulerError, resolveOptions, Scheduler, validatePlacement, DEFAULT_OPTIONS } from '../../src/scheduler/index.js';
import { seededRng } from '../../src/util/rng.js';
import { repoRoot } from '../helpers/dist.js';
import { node, task } from './fixtures.js';

t.test('options: defaults and validation', async (t) => {
  t.same(resolveOptions(), { strategy: 'binpack', maxReasons: 5, checkInvariants: false, maxCachedShapes: 64, maxIndexes: 64, indexCostRatio: 4 });
  t.equal(new Scheduler({ strategy: 'spread' }).options.strategy, 'spread');
  t.ok(Object.isFrozen(DEFAULT_OPTIONS));
  for (const bad of [{ strategy: 'random' }, { maxReasons: 0 }, { maxReasons: 1.5 }, { checkInvariants: 'yes' }, { maxCachedShapes: 0 }, { maxIndexes: 0 }, { indexCostRatio: -1 }, { indexCostRatio: Number.NaN }]) {
    t.throws(() => new Scheduler(bad as never), { code: 'INVALID_OPTIONS' }, JSON.stringify(bad));
  }
});

t.test('caller bugs throw typed errors before anything changes', async (t) => {
  const s = new Scheduler({ checkInvariants: true });
  s.upsertNode(node('a', { cpus: 1 }));
  t.throws(() => s.schedule([task('x', { cpu: 1 }), task('y'), task('x')]), { code: 'DUPLICATE_TASK' });
  t.equal(s.taskCount, 0, 'nothing was placed');
  t.throws(() => s.schedule([task('')]), { code: 'BAD_REQUEST' });
  t.throws(() => s.upsertNode({ ...node('a'), ID: '' }), { code: 'BAD_REQUEST' });
  t.throws(() => s.taskAssigned({ ...task('x'), ID: '' }), { code: 'BAD_REQUEST' });
  try {
    s.schedule([task('d'), task('d')]);
  } catch (e) {
    t.ok(isSchedulerError(e, 'DUPLICATE_TASK'));
    t.notOk(isSchedulerError(e, 'BAD_REQUEST'));
    t.match((e as Error).message, /DUPLICATE_TASK: task d appears twice/);
  }
  t.same(s.schedule([]), { placed: [], unplaced: [] });
});

t.test('odd but legal input never crashes', async (t) => {
  const s = new Scheduler({ checkInvariants: true });
  const bare = node('bare');
  bare.Description = { ...bare.Description, Resources: {} };
  s.upsertNode(bare);
  const weird = task('w', { cpu: 1 });
  weird.Spec = {};
  const negative = task('n');
  negative.Spec.Resources = { Reservations: { NanoCPUs: -5, MemoryBytes: Number.NaN } };
  const r = s.schedule([weird, negative, task('c', { service: 'c', cpu: 1 })]);
  t.same(r.placed.map((p) => p.taskId), ['w', 'n'], 'no spec, or nonsense reservations, reserve nothing');
  t.equal(r.unplaced[0]!.reason, 'no suitable node (insufficient cpu on 1 node)', 'a node that reports no CPUs has none');
});

t.test('heap: pops in order under random top updates', async (t) => {
  const rng = seededRng(5);
  for (let round = 0; round < 50; round++) {
    const keys = Array.from({ length: rng.int(200) }, () => rng.int(50));
    const ids = keys.map((_, i) => i);
    const h = new Heap(ids, (a, b) => keys[a]! < keys[b]! || (keys[a] === keys[b] && a < b));
    t.ok(h.isValid(), 'heapify');
    const out: number[] = [];
    while (h.size > 0) {
      if (rng.chance(0.5)) {
        keys[h.top()]! += rng.int(10);
        h.fixTop();
      } else out.push(keys[h.pop()]!);
      if (!h.isValid()) t.fail('heap order broken');
    }
    if (out.some((k, i) => i > 0 && k < out[i - 1]!)) t.fail(`round ${round}: out of order`);
  }
  t.pass('200 rounds');
});

t.test('hostPortsOf: only host-mode ports with a published port', async (t) => {
  t.same(hostPortsOf(undefined), []);
  t.same(
    hostPortsOf({
      Ports: [
        { TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' },
        { TargetPort: 53, PublishedPort: 53, PublishMode: 'host', Protocol: 'udp' },
        { TargetPort: 443, PublishedPort: 443, PublishMode: 'ingress' },
        { TargetPort: 9000, PublishedPort: 9000 },
        { TargetPort: 22, PublishMode: 'host' },
      ],
    }),
    [{ port: 8080, protocol: 'tcp' }, { port: 53, protocol: 'udp' }],
  );
});

t.test('validatePlacement: what the API layer can reject up front', async (t) => {
  t.equal(validatePlacement({ Placement: { Constraints: ['node.role==manager'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] } }), undefined);
  t.equal(validatePlacement({}), undefined);
  t.equal(validatePlacement({ Placement: { Constraints: ['role=manager'] } })?.code, 'INVALID_CONSTRAINT');
  t.equal(validatePlacement({ Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'zone' } }] } })?.code, 'INVALID_PREFERENCE');
});

t.test('purity: no clock, no randomness, no I/O, only type imports from the manager', async (t) => {
  const dir = path.join(repoRoot, 'src/scheduler');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
    const src = readFileSync(path.join(dir, f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
    t.notMatch(src, /Math\.random|Date\.now|new Date|performance\.now|process\.|setTimeout|setInterval/, `${f}: no clock or randomness`);
    t.notMatch(src, /from 'node:|from "node:|require\(/, `${f}: no I/O modules`);
    for (const m of src.matchAll(/^import (.*) from '(\.\.\/manager\/[^']*)'/gm)) t.match(m[1]!, /^type /, `${f}: ${m[2]} is imported for types only`);
  }
});
