import { RaftDriverError } from '../../src/raft/driver.js';
import { RaftError } from '../../src/raft/errors.js';
import t from 'tap';
import { repoRoot } from '../helpers/dist.js';
import { makeSchedule } from '../../chaos-tests/schedule.js';
import { Injector } from '../../chaos-tests/faults/injector.js';
import { RunClock } from '../../chaos-tests/clock.js';
import type { ChaosCluster } from '../../chaos-tests/cluster.js';
import { SCENARIOS, usableKinds, scenarioByName } from '../../chaos-tests/scenario.js';
import { parseDuration, replayCommand } from '../../chaos-tests/options.js';
import { History } from '../../chaos-tests/workload/history.js';
import { LOG_KEYS, tokens } from '../../chaos-tests/workload/keys.js';
import { percentile } from '../../chaos-tests/recovery.js';
import { summaryLine } from '../../chaos-tests/report.js';
import { seededRng } from '../../src/util/rng.js';
import { ChaosControl } from '../../chaos-tests/node/control-server.js';
import { breakMode } from '../../chaos-tests/node/break.js';
import { startApi } from '../api/helpers.js';
import { checkAddresses } from '../../chaos-tests/checkers/addresses.js';
import { checkMesh } from '../../chaos-tests/checkers/mesh.js';
import { checkElections, leadersByTerm } from '../../chaos-tests/checkers/elections.js';
import { checkCrashes } from '../../chaos-tests/checkers/crashes.js';

t.test('the fault schedule is a function of the seed', async (t) => {
  const { kinds } = usableKinds(SCENARIOS.all!, { managers: 3, workers: 2, disk: true });
  const a = makeSchedule(seededRng(42), kinds, 60_000);
  t.same(makeSchedule(seededRng(42), kinds, 60_000), a, 'same seed, same schedule');
  t.not(JSON.stringify(makeSchedule(seededRng(43), kinds, 60_000)), JSON.stringify(a), 'another seed, another schedule');
  t.ok(a.length >= 5, `${a.length} faults in 60 s`);
  for (let i = 1; i < a.length; i++) t.ok(a[i]!.at >= a[i - 1]!.at + a[i - 1]!.holdMs, 'one fault at a time');
  const noWorkers = usableKinds(SCENARIOS.all!, { managers: 3, workers: 0, disk: false });
  t.notOk(noWorkers.kinds.some(([k]) => k === 'kill-worker' || k === 'disk-full'), 'kinds the cluster cannot run are dropped');
  t.match(noWorkers.dropped.join(' '), /kill-worker.*no workers/);
  t.throws(() => scenarioByName('nope'), /unknown scenario/);
});

t.test('options and the summary line', async (t) => {
  t.equal(parseDuration('60s'), 60_000);
  t.equal(parseDuration('2m'), 120_000);
  t.equal(parseDuration('1500ms'), 1_500);
  t.equal(parseDuration('5'), 5_000);
  t.throws(() => parseDuration('soon'), /--duration/);
  t.equal(replayCommand({ seed: 9, scenario: 'all', durationMs: 30_000, managers: 3, workers: 4 }), 'npm run chaos -- --scenario all --seed 9 --duration 30s --managers 3 --workers 4');
  t.equal(
    summaryLine({ seed: 1, faults: 2, acked_writes_lost: 0, linearizable: true, converged: true, failover_p99_ms: 900, reschedule_p99_ms: null }),
    '{"seed":1,"faults":2,"acked_writes_lost":0,"linearizable":true,"converged":true,"failover_p99_ms":900,"reschedule_p99_ms":null}',
  );
  t.equal(percentile([5, 1, 3], 0.5), 3);
  t.equal(percentile([5, 1, 3], 0.99), 5);
  t.equal(percentile([], 0.5), null);
});

t.test('unknown appends whose token is nowhere at the end are settled as never applied', async (t) => {
  const h = new History();
  const key = LOG_KEYS[0]!;
  h.add({ model: 'kv', client: 0, node: 'n1', call: 0, ret: 1, key, input: { op: 'append', key, value: '0.1;' }, output: {}, outcome: 'ok' });
  h.add({ model: 'kv', client: 1, node: 'n1', call: 0, ret: 5, key, input: { op: 'append', key, value: '1.2;' }, outcome: 'unknown' });
  h.add({ model: 'kv', client: 2, node: 'n1', call: 0, ret: 5, key, input: { op: 'append', key, value: '2.3;' }, outcome: 'unknown' });
  const final = '0.1;2.3;';
  t.same([...tokens(final)], ['0.1', '2.3']);
  t.equal(h.resolveAppends(LOG_KEYS, (_k, tok) => tokens(final).has(tok)), 1);
  t.same(
    h.kvOps().map((o) => [o.input.op === 'append' ? o.input.value : '', o.ret]),
    [
      ['0.1;', 1],
      ['2.3;', Infinity],
    ],
    'the absent one is gone, the present one stays unknown',
  );
});

t.test('chaos control: partitions, gossip filter, clock', async (t) => {
  const c = new ChaosControl('a', '/nonexistent', () => {});
  t.same(c.handle({ cmd: 'ping' }), { ok: true, nodeId: 'a', pid: process.pid });
  c.handle({ cmd: 'partition', blocks: [{ from: ['a'], to: ['b'] }], addrs: { b: '127.0.0.2:4242', c: '127.0.0.3:4242' } });
  t.ok(c.faults.isBlocked('a', 'b'));
  t.notOk(c.faults.isBlocked('b', 'a'), 'one-way as asked');
  const f = c.gossipFilter();
  t.equal(f('out', '127.0.0.2:4242'), false, 'datagrams to a blocked peer are dropped');
  t.equal(f('in', '127.0.0.2:4242'), true, 'the other direction was not blocked');
  t.equal(f('out', '127.0.0.3:4242'), true);
  t.equal(f('out', '127.0.0.9:4242'), true, 'unknown addresses pass');
  c.handle({ cmd: 'partition', blocks: [{ from: ['b'], to: ['a'] }] });
  t.notOk(c.faults.isBlocked('a', 'b'), 'a new partition replaces the old one');
  t.equal(f('in', '127.0.0.2:4242'), false);
  c.handle({ cmd: 'heal' });
  t.notOk(c.faults.isBlocked('b', 'a'));
  const before = c.wallClock();
  c.handle({ cmd: 'clock', offsetMs: 60_000 });
  t.equal(c.clockOffsetMs, 60_000);
  t.ok(c.wallClock() - before >= 59_000, 'the clock the hooks hand the manager jumped');
  t.ok(Math.abs(Date.now() - before) < 5_000, 'the process clock did not');
  t.throws(() => c.handle({ cmd: 'clock', offsetMs: 'soon' } as never), /finite number/);
  t.throws(() => c.handle({ cmd: 'bogus' } as never), /unknown chaos command/);
});

t.test('broken builds: a known mode, from the harness only', async (t) => {
  t.equal(breakMode({}), null);
  t.same(breakMode({ SHOAL_CHAOS_BREAK: 'lose-tail:7' }), { kind: 'lose-tail', entries: 7 });
  t.same(breakMode({ SHOAL_CHAOS_BREAK: 'ack-before-commit' }), { kind: 'ack-before-commit' });
  t.throws(() => breakMode({ SHOAL_CHAOS_BREAK: 'everything' }), /must be/);
  // The product reads no fault switch: no SHOAL_CHAOS anywhere in src/.
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('grep', ['-rln', '--include=*.ts', '--include=*.c', 'SHOAL_CHAOS\\|chaos-tests\\|test/', 'src/'], { cwd: repoRoot, encoding: 'utf8' });
  t.equal(r.status, 1, 'grep ran and found nothing');
  t.equal(r.stdout, '', 'no source file in src/ reads SHOAL_CHAOS* or names chaos-tests or test/');
});

t.test('the Shoal KV API', async (t) => {
  const api = await startApi();
  t.teardown(() => api.close());
  t.equal((await api.req('GET', '/shoal/kv/a')).status, 404, 'absent key');
  t.same((await api.req('PUT', '/shoal/kv/a', { value: 'x' })).body.value, 'x');
  t.same((await api.req('POST', '/shoal/kv/a/append', { value: 'y' })).body.value, 'xy', 'append returns the new value');
  t.same((await api.req('GET', '/shoal/kv/a')).body, { value: 'xy' });
  t.same((await api.req('GET', '/shoal/kv/a?local=true')).body, { value: 'xy' }, 'local read');
  t.equal((await api.req('POST', '/shoal/kv/a/cas', { from: 'nope', to: 'z' })).status, 409, 'CAS mismatch');
  t.same((await api.req('POST', '/shoal/kv/a/cas', { from: 'xy', to: 'z' })).body.value, 'z');
  t.same((await api.req('POST', '/shoal/kv/b/cas', { from: null, to: '1' })).body.value, '1', 'from null: the key must be absent');
  t.equal((await api.req('PUT', '/shoal/kv/a', { value: 3 })).status, 400, 'values are strings');
  const err = new RaftDriverError('LEADER_CHANGED', 'leader changed');
  api.ctx.failCommits = err;
  t.equal((await api.req('PUT', '/shoal/kv/a', { value: 'q' })).status, 503, 'unknown outcome: 503');
  api.ctx.failCommits = null;
  api.ctx.failReads = new RaftError('NOT_LEADER', 'no leader');
  t.equal((await api.req('GET', '/shoal/kv/a')).status, 503, 'no leader for the barrier: 503');
  t.same((await api.req('GET', '/shoal/kv/a?local=true')).body, { value: 'z' }, 'a local read needs no leader');
});

t.test('acked service changes: the held spec is the last acknowledged one, or a later unknown one', async (t) => {
  const { checkAcked } = await import('../../chaos-tests/checkers/acked.js');
  const op = (kind: 'create' | 'update' | 'scale', outcome: 'ok' | 'fail' | 'unknown', replicas: number, gen: number, ret: number) => ({
    kind,
    name: 'svc0',
    node: 'm1',
    call: ret - 5,
    ret,
    outcome,
    wrote: { replicas, gen },
    ...(kind === 'create' && outcome === 'ok' ? { id: 'S1' } : {}),
  });
  const ops = [op('create', 'ok', 2, 0, 10), op('scale', 'ok', 4, 0, 20), op('update', 'fail', 4, 1, 30), op('scale', 'unknown', 1, 0, 40)];
  const judge = (held: { replicas: number; gen: number }) =>
    checkAcked(new History(), ops, { values: new Map(), services: new Map([['m1', new Map([['S1', held]])], ['m2', new Map([['S1', { replicas: 4, gen: 0 }]])]]) });
  t.ok(judge({ replicas: 4, gen: 0 }).pass, 'the last acknowledged scale');
  t.ok(judge({ replicas: 1, gen: 0 }).pass, 'a later scale of unknown outcome took effect');
  const lostScale = judge({ replicas: 2, gen: 0 });
  t.notOk(lostScale.pass, 'an acknowledged scale that is gone is a lost write');
  t.equal(lostScale.lost, 1);
  t.match(lostScale.details.join('\n'), /svc0: acknowledged scale to replicas 4 gen 0.*m1 holds replicas 2 gen 0/);
  t.notOk(judge({ replicas: 4, gen: 1 }).pass, 'a definitely failed update must not take effect');
});

t.test('scenarios joined with commas pool their fault kinds', async (t) => {
  const s = scenarioByName('pause,disk');
  t.same(Object.keys(s.weights).sort(), ['disk-full', 'disk-full-leader', 'pause-leader', 'pause-worker']);
  t.equal(s.services, true);
  t.throws(() => scenarioByName('pause,nope'), /unknown scenario "nope"/);
  t.throws(() => scenarioByName('pause,selftest-ack'), /selftest scenario runs on its own/);
});

t.test('addresses: two live tasks on one address fail the run; an ended task frees its address', async (t) => {
  const task = (id: string, state: string, addrs: string[]) => ({ id, service: 's', slot: 1, node: 'n', desired: 'running', state, addrs });
  const ok = checkAddresses([
    { t: 1, down: new Set<string>(), tasks: [task('a', 'running', ['net/10.0.1.3/24']), task('b', 'running', ['net/10.0.1.4/24'])] },
    // a ended (shutdown): its address may be handed to c.
    { t: 2, down: new Set<string>(), tasks: [task('a', 'shutdown', ['net/10.0.1.3/24']), task('c', 'running', ['net/10.0.1.3/24'])] },
  ]);
  t.ok(ok.pass, ok.summary);
  t.equal(ok.addresses, 2);
  const bad = checkAddresses([{ t: 5, down: new Set<string>(), tasks: [task('a', 'running', ['net/10.0.1.3/24']), task('b', 'pending', ['net/10.0.1.3/24'])] }]);
  t.notOk(bad.pass, 'two live owners caught');
  t.match(bad.details[0], /10\.0\.1\.3\/24 held by live tasks a and b/);
});

t.test('mesh: failures are excused only on a faulted path; a control-plane fault elsewhere excuses nothing', async (t) => {
  const nodes = { byId: (id: string) => ({ name: id.replace('id-', '') }) } as never;
  const rec = (kind: string, targets: string[], injectAt: number, readyAt: number, partition = false) => ({ seq: 0, kind, targets, leaderBefore: null, affectsLeader: false, workersLost: [], partition, injectAt, healAt: readyAt, readyAt, note: '' }) as never;
  const sample = (at: number, running: string[]) => ({ t: at, down: new Set<string>(), tasks: running.map((n, i) => ({ id: `t${i}`, service: 'web', slot: i + 1, node: `id-${n}`, desired: 'running', state: 'running', addrs: [] })) });
  const samples = [sample(0, ['w1', 'w2'])];
  const probe = (at: number, node: string, ok: boolean) => ({ at, node, ok, ms: 5, ...(ok ? {} : { err: 'ECONNRESET' }) });
  // A replica's node killed at 1000, healed at 3000: failures via any entry until 3000 + slack are excused.
  const killRep = checkMesh(nodes, [probe(500, 'm1', true), probe(1200, 'm1', false), probe(2000, 'w1', false), probe(9000, 'm2', true)], [rec('kill-worker', ['w1'], 1000, 3000)], samples, 'web', ['m1', 'm2', 'm3'], 1000);
  t.ok(killRep.pass, killRep.summary);
  t.equal(killRep.failed, 2);
  t.match(killRep.summary, /excused: 2 kill-worker/);
  // The leader (no replica, not the entry) killed: a failure via m2 then is the data plane's fault.
  const leaderKill = checkMesh(nodes, [probe(1500, 'm2', false), probe(1600, 'm1', false)], [rec('kill-leader', ['m1'], 1000, 3000)], samples, 'web', ['m1', 'm2', 'm3'], 1000);
  t.notOk(leaderKill.pass, 'a control-plane fault off the path excuses nothing');
  t.equal(leaderKill.unexcused, 1, 'the request via m1 (the killed leader itself) is excused, the one via m2 is not');
  t.match(leaderKill.details[0], /via m2: ECONNRESET .*faults then: kill-leader→m1/);
  // Quiet time, a partition, and no replica at all.
  t.notOk(checkMesh(nodes, [probe(100, 'm1', false)], [], samples, 'web', ['m1', 'm2', 'm3']).pass, 'a failure in quiet time');
  t.ok(checkMesh(nodes, [probe(1500, 'm2', false), probe(4000, 'm2', true)], [rec('partition', ['m3'], 1000, 2000, true)], samples, 'web', ['m1', 'm2', 'm3']).pass, 'a partition may cut any path');
  t.ok(checkMesh(nodes, [probe(1500, 'm2', false), probe(1600, 'm2', true)], [], [sample(0, ['w1']), sample(1400, [])], 'web', ['m1', 'm2', 'm3']).pass, 'no replica running: excused');
  t.notOk(checkMesh(nodes, [], [], samples, 'web', ['m1', 'm2', 'm3']).pass, 'no request at all proves nothing');
  const allDown = checkMesh(nodes, [probe(1500, 'w3', false), probe(4000, 'w3', true)], [rec('crash-managers', ['m1', 'm2', 'm3'], 1000, 3000)], samples, 'web', ['m1', 'm2', 'm3']);
  t.ok(allDown.pass, `every manager down: the nodes fence their tasks, by design (${allDown.summary})`);
  t.notOk(checkMesh(nodes, [probe(1500, 'w3', false), probe(4000, 'w3', true)], [rec('kill-leader', ['m1', 'm2'], 1000, 3000)], samples, 'web', ['m1', 'm2', 'm3']).pass, 'two of three managers down: no fence, no excuse');
});

t.test('the election and crash checkers read the nodes’ log records', async (t) => {
  const { createNodeLog } = await import('../../src/util/log/node-logger.js');
  /** A node's stderr as its process writes it: records through the real logger. */
  const stderrOf = (id: string, write: (log: import('../../src/util/log/interface.js').Logger) => void, extra = '') => {
    const out = { text: '', write: (s: string) => void (out.text += s) };
    write(createNodeLog({ format: 'json' }, out).log.child({ node: id }));
    return out.text + extra;
  };
  const became = (id: string, term: number) => (l: import('../../src/util/log/interface.js').Logger) => l.child({ component: 'raft' }).info({ term, role: 'leader', leader: id }, `leader, leader ${id} (term ${term})`);
  const node = (name: string, stderr: string) => ({ name, proc: { stdout: '', stderr, exits: [] }, killsByUs: 0 });
  const cluster = (nodes: ReturnType<typeof node>[]) => ({ nodes, managers: () => nodes, byId: () => undefined }) as unknown as import('../../chaos-tests/cluster.js').ChaosCluster;

  const ok = cluster([node('m1', stderrOf('a', became('a', 2))), node('m2', stderrOf('b', (l) => (became('b', 3)(l), l.child({ component: 'raft' }).info({ term: 3, role: 'follower', leader: 'b' }, 'x'))))]);
  t.same([...leadersByTerm(ok)].map(([term, ids]) => [term, [...ids]]), [[2, ['a']], [3, ['b']]], 'one leader per term, from the raft records');
  t.equal(checkElections(ok).pass, true);
  const split = cluster([node('m1', stderrOf('a', became('a', 4))), node('m2', stderrOf('b', became('b', 4)))]);
  t.equal(checkElections(split).pass, false, 'two leaders in term 4 fail');
  t.equal(checkCrashes(ok).pass, true, 'ordinary records are no crash');

  const bug = cluster([node('m1', stderrOf('a', (l) => l.child({ component: 'api' }).error({ err: new TypeError('x') }, 'POST /x → 500')))]);
  t.match(checkCrashes(bug).details.join(), /m1 log shows a stack trace/, 'a record with a stack');
  const uncaught = cluster([node('m1', stderrOf('a', (l) => l.error('uncaught exception: boom; the node keeps running')))]);
  t.match(checkCrashes(uncaught).details.join(), /an uncaught error/);
  const died = cluster([node('m1', stderrOf('a', () => {}, 'FATAL ERROR: Reached heap limit Allocation failed\n'))]);
  t.match(checkCrashes(died).details.join(), /m1 output shows FATAL/, 'what Node prints when it dies, outside the log');
});

t.test('injector: a run short of minFaults tries a skipped fault once more, with a longer wait for a leader', async (t) => {
  // A stand-in cluster: no leader for the planned fault (managers still coming back), one for the second try.
  const waits: number[] = [];
  const calls: string[] = [];
  const leader = { name: 'm1', id: 'm1' };
  const cluster = {
    waitLeader: async (ms: number) => (waits.push(ms), waits.length === 1 ? null : leader),
    isolate: async (n: typeof leader) => void calls.push(`isolate ${n.name}`),
    setPartition: async (p: unknown[]) => void calls.push(`partition ${p.length}`),
  };
  const log: string[] = [];
  const inj = new Injector(cluster as unknown as ChaosCluster, new RunClock(), (m) => log.push(m));
  await inj.run([{ seq: 1, at: 0, kind: 'partition-leader', holdMs: 0, pick: 0 }], 0, 0, 1);
  t.same(waits, [3_000, 15_000], 'the second try waits 15 s for a leader');
  t.same(inj.records.map((r) => r.skipped ?? 'injected'), ['no leader', 'injected'], 'skipped, then injected');
  t.same(calls, ['isolate m1', 'partition 0'], 'isolated the leader and healed');
  t.match(log.join('\n'), /fault 1 partition-leader: tried again, 1 faults wanted/);
  // With enough faults, a skipped one is not tried again.
  const waits2: number[] = [];
  const none = { ...cluster, waitLeader: async (ms: number) => (waits2.push(ms), null) };
  await new Injector(none as unknown as ChaosCluster, new RunClock(), () => {}).run([{ seq: 1, at: 0, kind: 'partition-leader', holdMs: 0, pick: 0 }], 0, 60_000, 0);
  t.same(waits2, [3_000], 'minFaults met: no second try');
});
