/**
 * Health checks, on simulated time: the monitor's Docker semantics (intervals,
 * start period, retries, timeouts), and the task controller's use of them —
 * `starting` until the first pass, `failed` ("unhealthy container") once
 * unhealthy, stopped before that is reported. The real-process run is in
 * test/worker/e2e.test.ts.
 */
import t from 'tap';
import type { Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { HEALTH_DEFAULTS, HealthMonitor, healthPolicy, mergeHealth, type HealthReport } from '../../src/worker/agent/health.js';
import { TaskController } from '../../src/worker/agent/task-controller.js';
import { TaskDb } from '../../src/worker/agent/task-db.js';
import type { Task, TaskStatus } from '../../src/model/index.js';
import { SimTimers } from '../sim/timers.js';
import { FakeRuntime } from './fake-runtime.js';
import { silentLogger } from '../../src/util/log/interface.js';

const S = 1e9;
const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

t.test('policy: Docker defaults, CMD and CMD-SHELL, NONE', async (t) => {
  t.equal(healthPolicy(undefined), null);
  t.equal(healthPolicy({ Test: ['NONE'] }), null, 'NONE disables an image check');
  t.equal(healthPolicy({ Test: [] }), null);
  t.same(healthPolicy({ Test: ['CMD-SHELL', 'curl -f http://localhost/'] }), {
    cmd: ['/bin/sh', '-c', 'curl -f http://localhost/'],
    intervalMs: HEALTH_DEFAULTS.intervalMs,
    timeoutMs: HEALTH_DEFAULTS.timeoutMs,
    retries: 3,
    startPeriodMs: 0,
    startIntervalMs: HEALTH_DEFAULTS.startIntervalMs,
  });
  t.same(healthPolicy({ Test: ['CMD', 'test', '-e', '/ok'], Interval: 2 * S, Timeout: S / 2, Retries: 5, StartPeriod: 10 * S, StartInterval: S })!, {
    cmd: ['test', '-e', '/ok'],
    intervalMs: 2000,
    timeoutMs: 500,
    retries: 5,
    startPeriodMs: 10_000,
    startIntervalMs: 1000,
  });
});

function monitor(hc: Parameters<typeof healthPolicy>[0], results: (boolean | 'hang' | 'throw')[]) {
  const timers = new SimTimers();
  const changes: [number, HealthReport][] = [];
  const probes: number[] = [];
  let i = 0;
  const m = new HealthMonitor(
    healthPolicy(hc)!,
    async (_cmd, timeoutMs) => {
      probes.push(timers.now());
      const r = results[Math.min(i++, results.length - 1)]!;
      if (r === 'throw') throw new Error('exec failed: no such task');
      // What a runtime's exec answers when the check outlives its timeout.
      if (r === 'hang') return { exitCode: 137, output: `(timed out after ${timeoutMs} ms)` };
      return { exitCode: r ? 0 : 1, output: r ? 'ok' : 'not ok' };
    },
    timers,
    (r) => changes.push([timers.now(), r]),
  );
  const step = async (ms: number) => {
    timers.advance(ms);
    await flush();
  };
  return { m, timers, changes, probes, step };
}

t.test('monitor: starting until the first pass; Retries failures in a row make it unhealthy', async (t) => {
  const { m, changes, probes, step } = monitor({ Test: ['CMD', 'x'], Interval: S, Retries: 3 }, [false, false, true, false, true, false, false, false, true]);
  m.start();
  t.equal(m.report().status, 'starting');
  await step(1000);
  await step(1000);
  t.equal(m.report().status, 'starting', 'failures while starting (no start period): counted, not yet unhealthy');
  t.equal(m.report().failingStreak, 2);
  await step(1000);
  t.same(changes.map(([at, r]) => [at, r.status]), [[3000, 'healthy']], 'the first pass: healthy');
  t.equal(m.report().failingStreak, 0, 'a pass resets the streak');
  await step(1000);
  await step(1000);
  t.equal(m.report().status, 'healthy', 'one failure between passes changes nothing');
  await step(1000);
  await step(1000);
  t.equal(m.report().status, 'healthy', 'two in a row: still healthy (Retries 3)');
  await step(1000);
  t.same(changes.map(([at, r]) => [at, r.status]), [[3000, 'healthy'], [8000, 'unhealthy']], 'the third in a row: unhealthy');
  t.equal(changes[1]![1].failingStreak, 3);
  t.equal(changes[1]![1].lastOutput, 'not ok');
  await step(10_000);
  t.same(probes, [1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000], 'one check per interval; none after unhealthy');
});

t.test('monitor: StartPeriod forgives failures and checks every StartInterval; a pass ends it', async (t) => {
  const { m, changes, probes, step } = monitor({ Test: ['CMD', 'x'], Interval: 10 * S, Retries: 1, StartPeriod: 5 * S, StartInterval: S }, [false, false, false, true, false]);
  m.start();
  for (let i = 0; i < 3; i++) await step(1000);
  t.equal(m.report().status, 'starting', 'three failures inside the start period do not count (Retries 1)');
  t.equal(m.report().failingStreak, 0);
  await step(1000);
  t.same(changes.map(([at, r]) => [at, r.status]), [[4000, 'healthy']]);
  await step(1000);
  t.equal(probes.length, 4, 'after the pass, checks run every Interval, not StartInterval');
  await step(9000);
  t.same(changes.map(([at, r]) => [at, r.status]), [[4000, 'healthy'], [14_000, 'unhealthy']], 'after the start period a failure counts (Retries 1)');
});

t.test('monitor: failures after the start period count even before any pass; a timeout or exec error is a failure', async (t) => {
  const { m, changes, step } = monitor({ Test: ['CMD', 'x'], Interval: S, Retries: 2, StartPeriod: 2.5 * S, StartInterval: S }, [false, false, 'hang', 'throw']);
  m.start();
  await step(1000);
  await step(1000);
  t.equal(m.report().failingStreak, 0, 'inside the start period');
  await step(1000);
  // The runtimes' exec enforce the timeout and answer like this; the monitor trusts them to.
  t.equal(m.report().failingStreak, 1, 'a check exec reports timed out (exit 137) counts');
  await step(1000);
  t.same(changes.map(([at, r]) => [at, r.status, r.lastOutput]), [[4000, 'unhealthy', 'exec failed: no such task']], 'an exec error counts; unhealthy without ever passing');
  m.stop();
});

/**
 * A TaskController over a FakeRuntime, a real task db and simulated time:
 * `reports` are the statuses it sent, `events` those and the runtime's stops in order.
 */
async function controllerFor(t: Test, task: { id: string; containerSpec: object; state?: string }, rt = new FakeRuntime(), timers = new SimTimers()) {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-health-'));
  const db = await TaskDb.open(path.join(dir, 'tasks.db'));
  t.teardown(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const reports: TaskStatus[] = [];
  const events: string[] = [];
  const stop = rt.stop.bind(rt);
  rt.stop = async (id: string) => {
    events.push('runtime stop');
    return stop(id);
  };
  const state = task.state ?? 'assigned';
  const full = {
    ID: task.id,
    ServiceID: 's',
    Slot: 1,
    NodeID: 'n',
    DesiredState: 'running',
    Spec: { ContainerSpec: task.containerSpec },
    Status: { Timestamp: new Date(0).toISOString(), State: state, Message: '' },
  } as unknown as Task;
  const report = (_id: string, st: TaskStatus) => {
    reports.push(st);
    events.push(`report ${st.State}`);
  };
  const c = new TaskController(
    { runtime: rt, db, report, log: silentLogger, alive: () => true, wall: () => timers.wall(), timers },
    { id: full.ID, task: full, runtime: 'process', state: state === 'running' ? 'ready' : 'assigned', created: state === 'running', updatedMs: 0 },
  );
  /** Moves simulated time on and lets every resulting step finish. */
  const advance = async (ms: number) => {
    timers.advance(ms);
    await flush();
    await c.settled();
  };
  return { c, rt, timers, reports, events, advance, last: () => reports[reports.length - 1]! };
}

t.test('controller: a task with a health check is starting until healthy, then fails unhealthy after being stopped', async (t) => {
  const { c, rt, reports, events, advance, last } = await controllerFor(t, {
    id: 'task1',
    containerSpec: { Image: 'busybox', Args: ['sleep', '600'], HealthCheck: { Test: ['CMD-SHELL', 'test -e /ok'], Interval: S, Retries: 2 } },
  });
  c.kick();
  await advance(0);
  t.same(reports.map((r) => r.State), ['accepted', 'preparing', 'ready', 'starting', 'starting'], 'started, but not running before its first check');
  t.same(last().ContainerStatus?.Health, { Status: 'starting', FailingStreak: 0 }, 'reported again once its checks run: health starting, for service ps from the first poll');
  t.same(rt.running(), ['task1']);
  await advance(1000);
  t.equal(last().State, 'running', 'the first pass: running');
  t.same(last().ContainerStatus?.Health, { Status: 'healthy', FailingStreak: 0, Output: '/bin/sh -c test -e /ok: exit 0' }, 'the status carries the health');
  rt.execExit.set('task1', 1);
  await advance(1000);
  t.equal(last().State, 'running', 'one failure: nothing reported (Retries 2)');
  await advance(1000);
  const failed = last();
  t.equal(failed.State, 'failed');
  t.equal(failed.Message, 'unhealthy container');
  t.match(failed.Err, /^task: unhealthy container \(2 failed health checks in a row; last: \/bin\/sh -c test -e \/ok: exit 1\)/);
  t.equal(failed.ContainerStatus?.Health?.Status, 'unhealthy');
  t.same(events.slice(-2), ['runtime stop', 'report failed'], 'stopped before it is reported failed: no replacement runs beside it');
  t.same(rt.running(), []);
  const execs = rt.execs;
  await advance(10_000);
  t.equal(rt.execs, execs, 'no more checks');
});

t.test('controller: a task re-adopted after an agent restart resumes its checks, starting until its next pass', async (t) => {
  const { c, rt, reports, advance, last } = await controllerFor(t, { id: 'task2', state: 'running', containerSpec: { Image: 'busybox', HealthCheck: { Test: ['CMD', 'true'], Interval: S, Retries: 1 } } });
  // What the previous agent left: the task running in the runtime.
  await rt.create({ taskId: 'task2', name: 'x', image: 'busybox', env: [], mounts: [], limits: {}, labels: {} });
  await rt.start('task2');
  c.adopt((await rt.inspect('task2'))!);
  await advance(0);
  t.equal(c.state, 'starting', 'resumes starting: no pass recorded');
  await advance(1000);
  t.same(reports.map((r) => [r.State, r.ContainerStatus?.Health?.Status]), [['running', 'healthy']], 'its next pass reports it running');
  rt.execExit.set('task2', 1);
  await advance(1000);
  t.equal(last().State, 'failed', 'and the checks go on: unhealthy fails it');
});

t.test("the image's HEALTHCHECK under the service's, field by field (Docker's merge)", async (t) => {
  const image = { Test: ['CMD-SHELL', 'curl -f localhost'], Interval: 10 * S, Retries: 5, StartPeriod: 3 * S };
  t.same(mergeHealth(image, undefined), image, 'no service check: the image one');
  t.same(mergeHealth(undefined, { Test: ['CMD', 'true'] }), { Test: ['CMD', 'true'] });
  t.same(mergeHealth(image, { Interval: 2 * S }), { Test: ['CMD-SHELL', 'curl -f localhost'], Interval: 2 * S, Retries: 5, StartPeriod: 3 * S }, 'a service interval over the image test');
  t.same(mergeHealth(image, { Test: ['CMD', 'true'], Retries: 1 }), { Test: ['CMD', 'true'], Retries: 1, Interval: 10 * S, StartPeriod: 3 * S }, "the service's test and retries, the image's timings");

  // The controller asks the runtime for the image's check: a task whose service has none still gets it.
  const withImageCheck = () => Object.assign(new FakeRuntime(), { imageHealth: { Test: ['CMD', 'true'], Interval: S } });
  const a = await controllerFor(t, { id: 'img1', containerSpec: { Image: 'img' } }, withImageCheck());
  a.c.kick();
  await a.advance(0);
  t.equal(a.last().State, 'starting', "the image's check gates running");
  await a.advance(1000);
  t.equal(a.last().State, 'running', 'and its first pass starts it');
  const b = await controllerFor(t, { id: 'img2', containerSpec: { Image: 'img', HealthCheck: { Test: ['NONE'] } } }, withImageCheck());
  b.c.kick();
  await b.advance(0);
  t.equal(b.last().State, 'running', '--no-healthcheck (NONE) turns the image check off');
});
