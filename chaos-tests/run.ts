/**
 * One chaos run, start to end:
 *   1. start a real cluster (through the harness CLI, whose nodes carry the fault hooks; a tmpfs manager when disk-full is on);
 *   2. start the observers (leaders, tasks, heartbeats) and the workload
 *      (KV clients, the service client);
 *   3. carry out the seeded fault schedule for the fault phase;
 *   4. heal everything, stop the workload, wait for the managers to agree,
 *      read the final state, wait for convergence;
 *   5. run the checkers, compute recovery times, write the report.
 * The cluster and everything it started is torn down whatever happens.
 */
import { checkAddresses } from './checkers/addresses.js';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { seededRng } from '../src/util/rng.js';
import { breakMode } from './node/break.js';
import { checkAcked } from './checkers/acked.js';
import { checkConverged } from './checkers/converge.js';
import { checkCrashes } from './checkers/crashes.js';
import { checkElections } from './checkers/elections.js';
import { checkFalseDown } from './checkers/false-down.js';
import { checkLinearizable } from './checkers/linearizable.js';
import { checkSlots } from './checkers/slots.js';
import { checkMesh } from './checkers/mesh.js';
import type { Verdict } from './checkers/verdict.js';
import { RunClock, sleep } from './clock.js';
import { ChaosCluster } from './cluster.js';
import { ChaosError } from './errors.js';
import { DiskFault } from './faults/disk.js';
import { NetnsLab } from './netns.js';
import { Injector } from './faults/injector.js';
import { collectFinal, waitAgreement } from './final-state.js';
import { claimOctets } from './harness/octets.js';
import { BeatWatcher } from './observe/beats.js';
import { LeaderWatcher } from './observe/leaders.js';
import { TaskSampler } from './observe/tasks.js';
import { DEFAULTS, replayCommand, type ChaosRunOptions } from './options.js';
import { recoveryOf } from './recovery.js';
import { stat, summarizeKinds, type ChaosReport } from './report.js';
import { scenarioByName, usableKinds } from './scenario.js';
import { makeSchedule } from './schedule.js';
import { History } from './workload/history.js';
import { KvWorkload } from './workload/kv.js';
import { LOG_KEYS, tokens } from './workload/keys.js';
import { ServiceWorkload } from './workload/services.js';
import { MESH_PORT, MESH_SERVICE, MeshWorkload } from './workload/mesh.js';

export async function runChaos(o: ChaosRunOptions): Promise<ChaosReport> {
  const netnsWhy = o.netns ? NetnsLab.unavailable() : null;
  if (netnsWhy) throw new ChaosError('NOT_SUPPORTED', netnsWhy);
  const scenario = scenarioByName(o.scenario);
  if (o.break) {
    try {
      breakMode({ SHOAL_CHAOS_BREAK: o.break });
    } catch (err) {
      throw new ChaosError('USAGE', (err as Error).message.replace('SHOAL_CHAOS_BREAK', '--break'));
    }
  }
  if (o.managers < 1) throw new ChaosError('USAGE', '--managers must be at least 1');
  const opts = { ...DEFAULTS, ...o };
  const t0 = Date.now();
  const log = o.log ?? ((m: string) => process.stderr.write(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`));
  const runDir = o.outDir ?? mkdtempSync(path.join(tmpdir(), `shoal-chaos-${o.seed}-`));
  mkdirSync(runDir, { recursive: true });
  const beatsDir = path.join(runDir, 'beats');
  mkdirSync(beatsDir, { recursive: true });

  const wantsDisk = (scenario.weights['disk-full'] ?? 0) + (scenario.weights['disk-full-leader'] ?? 0) > 0;
  const diskWhy = wantsDisk ? DiskFault.unavailable() : null;
  const disk = wantsDisk && !diskWhy && o.managers >= 2 ? new DiskFault() : null;
  const { kinds, dropped } = usableKinds(scenario, { managers: o.managers, workers: o.workers, disk: disk !== null });
  const schedule = makeSchedule(seededRng(o.seed), kinds, o.durationMs);
  const withServices = scenario.services && o.workers > 0;
  log(`scenario ${scenario.name} (${scenario.description}), seed ${o.seed}: ${schedule.length} faults planned over ${o.durationMs / 1000} s; run dir ${runDir}`);
  if (dropped.length) log(`not run here: ${dropped.join(', ')}`);

  const subnet = o.subnet ?? claimOctets(100, 200);
  const c = await ChaosCluster.start({
    managers: o.managers,
    workers: o.workers,
    subnet,
    netns: o.netns ? new NetnsLab(subnet, log) : null,
    ...(o.break ? { env: { SHOAL_CHAOS_BREAK: o.break } } : {}),
    disk,
    log,
  });
  const onSignal = () => {
    log('interrupted: tearing the cluster down');
    void c.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`cluster up: ${c.nodes.map((n) => `${n.name}=${n.role}`).join(' ')}`);
    const clock = new RunClock();
    const wrng = seededRng(BigInt(o.seed) ^ 0x5eedn);
    const history = new History();
    const leaders = new LeaderWatcher(c, clock);
    const tasks = new TaskSampler(c, clock);
    const beats = new BeatWatcher(beatsDir, clock);
    const kv = new KvWorkload(c, clock, wrng.fork(), history, { clients: opts.clients, thinkMs: scenario.kv === 'own-keys' ? [0, 20] : [20, 80], timeoutMs: 3_000, mode: scenario.kv ?? 'mixed' });
    const services = withServices
      ? new ServiceWorkload(c, clock, wrng.fork(), { maxServices: 3, maxReplicas: Math.max(1, Math.min(4, o.workers + 1)), everyMs: [1_000, 2_500], timeoutMs: 5_000, beatsDir, prefix: 'chaos' })
      : null;
    leaders.start();
    if (withServices) {
      tasks.start();
      beats.start();
    }
    // The data plane, where there is one (every node on an address of its own): a published
    // service probed through every node's mesh for the whole run (checkers/mesh.ts).
    const mesh = withServices && o.netns ? new MeshWorkload(c, clock, { everyMs: 50, timeoutMs: 2_000, beatsDir }) : null;
    if (mesh) {
      const why = await mesh.setup(60_000);
      if (why) throw new ChaosError('SETUP', why);
      log(`mesh: ${MESH_SERVICE} answers through every node's port ${MESH_PORT}; probing every 50 ms`);
      mesh.start();
    }
    kv.start();
    services?.start();

    // The fault phase.
    const injector = new Injector(c, clock, log);
    const phaseStart = clock.now();
    const phaseEnd = phaseStart + o.durationMs;
    await injector.run(schedule, phaseStart, phaseEnd, o.minFaults ?? 0);
    if (clock.now() < phaseEnd) await sleep(phaseEnd - clock.now());

    // Heal whatever is left (the injector heals each fault; this is the safety net), then stop the clients.
    await healAll(c);
    await Promise.all([kv.stop(), services?.stop(), mesh?.stop()]);
    const stoppedAt = clock.now();
    log(`faults stopped: ${injector.records.filter((f) => !f.skipped).length} injected; ${history.ops.length} KV operations`);

    const agreeMs = await waitAgreement(leaders, clock, 30_000);
    log(agreeMs === null ? 'the managers did not agree within 30 s' : `managers agree ${agreeMs} ms after the faults stopped`);
    const final = await collectFinal(c, clock, history, kv.keys());
    const convergeStart = clock.now();
    const converge = withServices ? await checkConverged(c, clock, beats, opts.convergeMs) : null;
    const convergeMs = converge && converge.ms !== null ? Math.round(convergeStart - stoppedAt + converge.ms) : null;
    await Promise.all([leaders.stop(), tasks.stop(), beats.stop()]);

    log('checking');
    const resolved = history.resolveAppends(LOG_KEYS, (key, token) => [...final.values.values()].some((kv) => tokens(kv.get(key) ?? '').has(token)));
    if (resolved) log(`${resolved} unknown appends never took effect (their tokens are nowhere at the end)`);
    const acked = checkAcked(history, services?.ops ?? [], final);
    const lin = checkLinearizable(history, opts.checkTimeoutMs);
    const slots = withServices ? checkSlots(c, beats, tasks, injector.records) : null;
    const checkers: Verdict[] = [acked, lin];
    if (converge) checkers.push(converge);
    if (slots) checkers.push(slots);
    checkers.push(checkElections(c), checkCrashes(c));
    if (withServices) checkers.push(checkFalseDown(c, tasks.samples, injector.records), checkAddresses(tasks.samples));
    if (mesh) checkers.push(checkMesh(c, mesh.probes, injector.records, tasks.samples, mesh.serviceId, c.managers().map((m) => m.name)));
    if (agreeMs === null) checkers.push({ name: 'managers-agree', pass: false, summary: 'the managers did not agree on a leader and applied state within 30 s of the faults stopping', details: [] });

    const faults = injector.records.map((f) => ({ ...f, recovery: recoveryOf(f, { c, ops: history.ops, tasks: tasks.samples, leaders: leaders.samples }) }));
    const done = faults.filter((f) => !f.skipped);
    const failover = stat(done.filter((f) => f.recovery.failoverMs !== undefined).map((f) => f.recovery.failoverMs));
    const reschedule = stat(done.filter((f) => f.recovery.rescheduleMs !== undefined).map((f) => f.recovery.rescheduleMs));
    const heal = stat(done.filter((f) => f.recovery.healMs !== undefined).map((f) => f.recovery.healMs));
    const pass = checkers.every((x) => x.pass || x.advisory);
    const svcOps = services?.ops ?? [];
    const report: ChaosReport = {
      seed: o.seed,
      scenario: scenario.name,
      durationMs: o.durationMs,
      managers: o.managers,
      workers: o.workers,
      break: o.break ?? null,
      runDir,
      startedAt: new Date(t0).toISOString(),
      faults,
      byKind: summarizeKinds(faults),
      droppedKinds: dropped,
      workload: {
        kvOps: history.ops.length,
        kvAcked: history.ops.filter((x) => x.outcome === 'ok').length,
        kvUnknown: history.ops.filter((x) => x.outcome === 'unknown').length,
        serviceOps: svcOps.length,
        serviceAcked: svcOps.filter((x) => x.outcome === 'ok').length,
      },
      figures: {
        failover,
        reschedule,
        heal,
        convergeMs,
        agreeMs,
        maxOverlapRealMs: slots?.maxRealMs ?? null,
        maxOverlapApiMs: slots?.maxApiMs ?? null,
      },
      checkers,
      pass,
      replay: replayCommand(o),
      summary: {
        seed: o.seed,
        faults: done.length,
        acked_writes_lost: acked.lost,
        linearizable: lin.verdict === 'linearizable',
        converged: converge ? converge.pass : agreeMs !== null,
        failover_p99_ms: failover.p99,
        reschedule_p99_ms: reschedule.p99,
      },
    };
    writeFileSync(path.join(runDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    writeFileSync(path.join(runDir, 'history.jsonl'), history.ops.map((x) => JSON.stringify({ ...x, ret: x.outcome === 'unknown' ? null : x.ret })).join('\n') + '\n');
    writeFileSync(path.join(runDir, 'services.jsonl'), svcOps.map((x) => JSON.stringify(x)).join('\n') + '\n');
    c.saveLogs(path.join(runDir, 'logs'));
    return report;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await c.close();
  }
}

/** Undoes every fault that might be left: partitions, pauses, kills, clock offsets, a full disk. */
async function healAll(c: ChaosCluster): Promise<void> {
  await c.setPartition([]);
  for (const n of c.nodes) if (n.paused) await c.resume(n);
  for (const n of c.nodes) if (!n.proc.proc) await c.restart(n).catch(() => {});
  await Promise.all(c.managers().map((m) => c.control(m, { cmd: 'clock', offsetMs: 0 })));
  if (c.disk?.dir) c.disk.free();
}
