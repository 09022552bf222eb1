import t from 'tap';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ProcCluster, type NodeProc } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { distFile } from '../helpers/dist.js';
import { shoalInProcess } from '../cli/helpers.js';

/**
 * A whole cluster of real processes — a manager and two workers on their own
 * loopback addresses, the process runtime — driven through the CLI: a
 * service converges, logs come back, kill -9 of a worker's daemon moves its
 * tasks once it has been gone for 15 dispatcher heartbeat periods (its
 * supervisor keeps them running meanwhile), and the restarted worker stops
 * the copies it no longer owns.
 */
// The CLI as a real process: the non-detached `service create` below ("verify: Service converged").
function shoalProcess(host: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [distFile('bin/shoal.js'), ...args], { env: { ...process.env, SHOAL_HOST: host, NODE_OPTIONS: '' }, timeout: 90_000 }, (err, out, e) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: String(out), err: String(e) }),
    );
  });
}

// The other commands in-process through main() (bin/shoal.js's code path, without a Node start each).
const shoal = (host: string, ...args: string[]) => shoalInProcess('-H', host, ...args);

interface TaskJson {
  ID: string;
  NodeID: string;
  Slot: number;
  DesiredState: string;
  Status: { State: string; Timestamp: string; Err?: string; ContainerStatus?: { Health?: { Status: string } } };
}

t.test('process-runtime cluster: converge, logs, kill -9 a worker, heal, restart', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const w1 = await c.join('worker', m1);
  const w2 = await c.join('worker', m1);
  const api = `unix://${m1.dataDir}/api.sock`;
  await waitFor(async () => (await c.http(m1, 'GET', '/nodes')).json<{ Status: { State: string } }[]>().filter((n) => n.Status.State === 'ready').length === 3, {
    timeoutMs: 20_000,
    what: 'three ready nodes',
  });
  // Health checks on real processes: starting until the check passes, then running; a check
  // that starts failing gets the task failed ("unhealthy container") and replaced.
  const healthy = path.join(c.dir, 'healthy');
  const sick = path.join(c.dir, 'sick');
  const hc = await shoal(api, 'service', 'create', '-d', '--name', 'checked', '--runtime', 'process', '--health-cmd', `test -e ${healthy} && test ! -e ${sick}`, '--health-interval', '200ms', '--health-retries', '2', '--health-start-period', '60s', '--health-start-interval', '200ms', '--restart-delay', '100ms', '--', 'sleep', '3600');
  t.equal(hc.code, 0, hc.err);
  const checked = async () => (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: ['checked'] })))).json<TaskJson[]>();
  // Not a fixed sleep: wait until it has been starting for over a second (five failed checks,
  // forgiven inside the start period).
  const first = await waitFor(async () => (await checked()).find((x) => x.Status.State === 'starting' && Date.now() - Date.parse(x.Status.Timestamp) > 1000) ?? null, { timeoutMs: 30_000, what: 'the checked task starting for over 1 s' });
  t.pass('starting, not running, while its check fails');
  writeFileSync(healthy, '');
  const up = await waitFor(async () => (await checked()).find((x) => x.ID === first.ID && x.Status.State === 'running') ?? null, { timeoutMs: 20_000, what: 'the checked task running once healthy' });
  t.equal(up.Status.ContainerStatus?.Health?.Status, 'healthy', 'its status carries the health');
  writeFileSync(sick, '');
  const down = await waitFor(async () => (await checked()).find((x) => x.ID === first.ID && x.Status.State === 'failed') ?? null, { timeoutMs: 20_000, what: 'the checked task failed once unhealthy' });
  t.match(down.Status.Err, /unhealthy container/, down.Status.Err ?? "");
  rmSync(sick);
  await waitFor(async () => (await checked()).some((x) => x.ID !== first.ID && x.Slot === first.Slot && x.Status.State === 'running'), { timeoutMs: 30_000, what: 'a replacement running (and healthy)' });
  t.pass('replaced by a healthy task');
  t.equal((await shoal(api, 'service', 'rm', 'checked')).code, 0);
  // Keep tasks off the manager so the worker kill below matters.
  t.equal((await shoal(api, 'node', 'update', '--availability', 'drain', 'n1')).code, 0);
  // A node whose daemon is gone keeps its tasks for 15 heartbeat periods (15 s by default, for
  // live restore); 3 s here, so the replacement below follows the kill within ~4 s.
  const hb = await shoal(api, 'swarm', 'update', '--dispatcher-heartbeat', '200ms');
  t.equal(hb.code, 0, hb.err);
  t.match(hb.out, /keeps its tasks for 3s/);

  const create = await shoalProcess(api, 'service', 'create', '--name', 'ticker', '--replicas', '4', '--runtime', 'process', '--timeout', '60s', 'sh', '-c', 'echo start $$; exec sleep 3600');
  t.equal(create.code, 0, create.err);
  t.match(create.out, /4\/4 running[\s\S]*verify: Service converged/, 'converged, with progress');

  const logs = await shoal(api, 'service', 'logs', 'ticker');
  t.equal(logs.code, 0, logs.err);
  t.equal(logs.out.split('\n').filter((l) => /ticker\.\d\.\w+@n[23]\s+\| start \d+/.test(l)).length, 4, 'one start line per task, with task and node context');

  const tasks = async () => (await c.http(m1, 'GET', '/tasks?filters=' + encodeURIComponent(JSON.stringify({ service: ['ticker'] })))).json<TaskJson[]>();
  const nodeIds = new Map<string, NodeProc>();
  for (const n of (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Description: { Hostname: string } }[]>()) {
    const p = c.nodes.find((x) => x.name === n.Description.Hostname);
    if (p) nodeIds.set(n.ID, p);
  }
  const victim = w1;
  void w2;
  const victimId = [...nodeIds].find(([, p]) => p === victim)![0];
  const onVictim = (await tasks()).filter((x) => x.NodeID === victimId && x.DesiredState === 'running').length;
  t.ok(onVictim > 0, `${onVictim} tasks on ${victim.name}`);
  const killedAt = Date.now();
  await c.kill(victim);
  await waitFor(
    async () => {
      const live = (await tasks()).filter((x) => x.DesiredState === 'running' && x.Status.State === 'running');
      return live.length === 4 && live.every((x) => x.NodeID !== victimId);
    },
    { timeoutMs: 30_000, what: 'all 4 running on the surviving worker' },
  );
  const healedMs = Date.now() - killedAt;
  // Not before 15 periods of 200 ms, and well before the default 15 s: the cluster's period is what counts.
  t.ok(healedMs >= 3000 && healedMs < 10_000, `replaced once the daemon was gone for 15 heartbeat periods (${healedMs} ms; bench:heal reports machine deaths)`);
  // The killed worker comes back: it must stop its old copies, not run them beside the replacements.
  await c.restart(victim);
  await waitFor(
    async () => {
      const all = await tasks();
      const running = all.filter((x) => x.Status.State === 'running');
      const bySlot = new Map<number, number>();
      for (const x of running) bySlot.set(x.Slot, (bySlot.get(x.Slot) ?? 0) + 1);
      return running.length === 4 && [...bySlot.values()].every((n) => n === 1);
    },
    { timeoutMs: 30_000, what: 'one running task per slot after the restart' },
  );
  t.pass('no slot runs twice after the worker returns');
  t.equal((await shoal(api, 'service', 'rm', 'ticker')).code, 0);
});
