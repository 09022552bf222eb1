/**
 * The example app (examples/counter/compose.yml) on three netns machines
 * with oci tasks from busybox, deployed by `shoal stack deploy` as the
 * README says, then with `docker stack deploy`:
 * - it converges (dependencies first), and the published port
 *   answers on every machine, counting visits through web → api → kv over
 *   the overlay network with the stack's secret;
 * - an unchanged redeploy restarts nothing;
 * - kill -9 of a worker: the front end still answers, and the counter works
 *   again once the cluster has healed;
 * - `stack rm` leaves no service, network, secret, config, link or nftables
 *   table behind;
 * - the same file through `docker stack deploy` answers; redeployed
 *   unchanged it restarts nothing; with one service changed, only that
 *   service's tasks are replaced; `docker stack rm` removes it.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { onPath } from '../helpers/on-path.js';
import t from 'tap';
import type { NodeProc } from '../helpers/procs.js';
import { repoRoot } from '../helpers/dist.js';
import { waitFor } from '../helpers/wait.js';
import { shoalProcess } from '../cli/helpers.js';
import { machinesUnavailable, run, startMachines } from '../overlay-net/machines.js';
import { netnsOf } from '../../src/overlay-net/plan.js';

const skip = machinesUnavailable();
const COMPOSE = path.join(repoRoot, 'examples', 'counter', 'compose.yml');

t.test('the counter example: deploy, answer everywhere, survive a worker kill, remove cleanly', { skip: skip ?? false }, async (t) => {
  const { lab, c, nodes, tasks } = await startMachines(t, 3, 'oci', 100);
  const [m1] = nodes as [NodeProc, NodeProc, NodeProc];
  const env = c.apiEnv(m1);
  const shoal = (...args: string[]) => shoalProcess(args, { env, timeoutMs: 240_000 });
  const get = async (host: string, p: string) => (await run('timeout', ['5', '/bin/busybox', 'wget', '-qO-', `http://${host}:8080${p}`]).catch(() => ({ stdout: '' }))).stdout;

  let r = await shoal('stack', 'deploy', '-c', COMPOSE, '--timeout', '90s', 'counter');
  t.equal(r.code, 0, `${r.err}\n${r.out}\n${c.logs().slice(-3000)}`);
  t.match(r.out, /Creating service counter_kv\nCreating service counter_api\nCreating service counter_web\n/, 'kv, then api, then web (depends_on)');
  t.match(r.out, /counter_web\n[\s\S]*2\/2 running\n[\s\S]*verify: Service converged\n$/, 'then it waits until they run (healthy)');

  // The published port answers on every machine, and every visit counts once.
  const counts: number[] = [];
  for (let i = 1; i <= 3; i++) {
    let last = '';
    const out = await waitFor(async () => {
      last = await get(lab.host(i), '/cgi-bin/hit');
      return /^visits: \d+/.test(last) ? last : null;
    }, { timeoutMs: 30_000, what: `the counter on machine ${i}` }).catch((err: Error) => {
      throw new Error(`${err.message}; its last answer: ${JSON.stringify(last)}`);
    });
    counts.push(Number(/^visits: (\d+)/.exec(out)![1]));
    t.match(await get(lab.host(i), '/'), /Counter on Shoal/, `the page on machine ${i}`);
  }
  t.ok(counts[1]! > counts[0]! && counts[2]! > counts[1]!, `visits count up across machines: ${counts.join(', ')}`);

  // An unchanged redeploy: nothing sent, no task restarted.
  const ids = async () => {
    const ps = await shoal('stack', 'ps', 'counter', '-q', '--filter', 'desired-state=running');
    t.equal(ps.code, 0, ps.err);
    return ps.out.trim().split('\n').sort();
  };
  const before = await ids();
  t.equal(before.length, 5, 'kv 1, api 2, web 2');
  r = await shoal('stack', 'deploy', '-c', COMPOSE, '-d', 'counter');
  t.equal(r.code, 0, r.err);
  t.notMatch(r.out, /Creating|Updating/);
  t.same(await ids(), before, 'the same tasks run');

  // kill -9 a worker: the front end keeps answering, the counter comes back.
  const victim = nodes[2]!;
  // The killed node never comes back to tear down its tasks' network namespaces (/run/netns is
  // the host's): the test does, for exactly those tasks.
  const onVictim = (await c.http(m1, 'GET', '/tasks')).json<{ ID: string; NodeID: string; Status: { State: string } }[]>();
  const nodeList = (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Description: { Hostname: string } }[]>();
  const victimNode = nodeList.find((n) => n.Description.Hostname === victim.name)!.ID;
  const leaked = onVictim.filter((x) => x.NodeID === victimNode).map((x) => netnsOf(x.ID));
  t.teardown(async () => {
    for (const ns of leaked) await run('ip', ['netns', 'delete', ns]).catch(() => {});
  });
  await c.kill(victim);
  const alive = [1, 2].map((i) => lab.host(i));
  await waitFor(async () => (await Promise.all(alive.map((h) => get(h, '/')))).every((o) => /Counter on Shoal/.test(o)), { timeoutMs: 30_000, what: 'the front end answers after the kill' });
  t.pass('the front end answers on the surviving machines');
  await waitFor(async () => /^visits: \d+/.test(await get(alive[0]!, '/cgi-bin/hit')), { timeoutMs: 60_000, what: 'the counter works again after the heal' }).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${(await shoal('stack', 'ps', 'counter')).out}`);
  });
  t.pass('the counter works again after the heal');

  // stack rm: nothing of it left anywhere (asked of the API: what `ls` would list).
  // Docker's shapes: networks carry Name, the others Spec.Name.
  const names = async (kind: string) => (await c.http(m1, 'GET', `/${kind}`)).json<{ Name?: string; Spec?: { Name: string } }[]>().map((x) => x.Spec?.Name ?? x.Name ?? '');
  const KINDS = ['services', 'networks', 'secrets', 'configs'];
  for (const kind of KINDS) t.ok((await names(kind)).some((n) => n.startsWith('counter_')), `the stack has ${kind} before stack rm`);
  r = await shoal('stack', 'rm', 'counter');
  t.equal(r.code, 0, r.err);
  for (const kind of KINDS) t.same((await names(kind)).filter((n) => n.startsWith('counter_')), [], `no ${kind} of the stack left`);
  await waitFor(
    async () => {
      for (const i of [1, 2]) {
        const links = (await run('ip', ['-n', lab.ns(i), '-o', 'link'])).stdout.split('\n').filter((l) => /shbr|shvx|shv/.test(l));
        const tables = (await run('nsenter', [`--net=/run/netns/${lab.ns(i)}`, 'nft', 'list', 'table', 'ip', 'shoal']).catch(() => ({ stdout: '' }))).stdout;
        if (links.length > 0 || /counter|8080/.test(tables)) return false;
      }
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: 'no links or rules of the stack on the surviving machines' },
  );
  t.pass('no links or nftables rules of the stack left on the surviving machines');

  // The same file with the real docker CLI.
  if (!onPath('docker')) return t.comment('the docker CLI is not installed: docker stack deploy is not tried');
  const home = mkdtempSync(path.join(tmpdir(), 'shoal-docker-'));
  t.teardown(() => rmSync(home, { recursive: true, force: true }));
  const docker = (...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) =>
      execFile('docker', args, { env: { PATH: process.env.PATH ?? '', HOME: home, DOCKER_CONFIG: home, ...env }, timeout: 60_000 }, (e, out, err) => resolve({ code: e ? 1 : 0, out: String(out), err: String(err) })),
    );
  const d = await docker('stack', 'deploy', '-c', COMPOSE, 'dk');
  t.equal(d.code, 0, d.err);
  await waitFor(async () => /^visits: \d+/.test(await get(lab.host(1), '/cgi-bin/hit')), { timeoutMs: 60_000, what: 'the docker-deployed stack counts' }).catch(async (err: Error) => {
    throw new Error(`${err.message}\n${(await shoal('stack', 'ps', 'dk')).out}`);
  });
  t.pass('docker stack deploy: the example answers');
  t.match((await docker('stack', 'services', 'dk')).out, /dk_web +replicated +2\/2/);
  // Redeploys with docker: unchanged restarts nothing; a changed service alone rolls.
  const dkTasks = async () => {
    const ps = await shoal('stack', 'ps', 'dk', '--filter', 'desired-state=running', '--format', '{{.Name}} {{.ID}}');
    if (ps.code !== 0) throw new Error(ps.err);
    return ps.out.trim().split('\n').sort();
  };
  let seen: string[] = [];
  await waitFor(async () => (seen = await dkTasks()).length === 5, { timeoutMs: 30_000, what: 'the 5 tasks of dk' }).catch((err: Error) => {
    throw new Error(`${err.message}: ${JSON.stringify(seen)}`);
  });
  const dkBefore = seen;
  t.equal((await docker('stack', 'deploy', '-c', COMPOSE, 'dk')).code, 0);
  t.same(await dkTasks(), dkBefore, 'docker stack deploy of the unchanged file: the same tasks run');
  const changed = path.join(path.dirname(COMPOSE), `.changed-${process.pid}.yml`);
  t.teardown(() => rmSync(changed, { force: true }));
  const text = readFileSync(COMPOSE, 'utf8');
  writeFileSync(changed, text.replace('http://127.0.0.1/cgi-bin/count?peek=1"]\n      interval: 2s', 'http://127.0.0.1/cgi-bin/count?peek=1"]\n      interval: 3s'));
  t.not(readFileSync(changed, 'utf8'), text, "the copy changes the api's health check only");
  t.equal((await docker('stack', 'deploy', '-c', changed, 'dk')).code, 0);
  // Polled through the API (a CLI process per probe costs a Node start); the CLI then shows the result.
  // `stack ps` may print IDs truncated, as docker does: compare by prefix.
  const beforeIds = dkBefore.map((x) => x.split(' ')[1]!);
  await waitFor(
    async () => {
      const api = (await tasks('dk_api')).filter((x) => x.Status.State === 'running');
      return api.length === 2 && api.every((x) => !beforeIds.some((b) => x.ID.startsWith(b)));
    },
    { timeoutMs: 60_000, what: 'the api tasks replaced' },
  );
  const after = await dkTasks();
  t.equal(after.length, 5, 'five tasks run after the update');
  t.ok(after.filter((x) => x.startsWith('dk_api.')).every((x) => !dkBefore.includes(x)), 'both api tasks are new');
  t.same(after.filter((x) => !x.startsWith('dk_api.')), dkBefore.filter((x) => !x.startsWith('dk_api.')), 'web and kv tasks untouched');
  // Every task the stack ever ran here, to check that its network namespace goes too.
  const dkServices = new Set((await c.http(m1, 'GET', '/services')).json<{ ID: string; Spec: { Name: string } }[]>().filter((x) => x.Spec.Name.startsWith('dk_')).map((x) => x.ID));
  const dkTaskIds = (await c.http(m1, 'GET', '/tasks')).json<{ ID: string; ServiceID: string }[]>().filter((x) => dkServices.has(x.ServiceID)).map((x) => x.ID);
  t.ok(dkTaskIds.length >= 7, `${dkTaskIds.length} tasks of dk (5, and 2 api tasks replaced)`);
  t.equal((await docker('stack', 'rm', 'dk')).code, 0);
  await waitFor(async () => (await Promise.all(['services', 'networks', 'configs'].map(names))).flat().every((n) => !n.startsWith('dk_')), { timeoutMs: 30_000, what: 'docker stack rm removed it all' });
  await waitFor(() => dkTaskIds.every((id) => !existsSync(`/run/netns/${netnsOf(id)}`)), { timeoutMs: 30_000, what: "the network namespaces of dk's tasks removed" });
  t.pass("docker stack rm: nothing left, its tasks' network namespaces included");
});
