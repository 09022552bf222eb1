/**
 * GET /events on a real 3-manager cluster (real processes), read by the real
 * docker CLI (`docker events --filter type=service`, on a follower) and by
 * `shoal events` (connected to the leader first, with every manager listed)
 * while a service is created, the leader is killed -9, and the service is
 * updated and removed under the new leader. Both must show create, update,
 * remove in order; `shoal events` resumes on another manager by Raft
 * position, with no event lost and none printed twice.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { distFile } from '../helpers/dist.js';
import { ProcCluster, type NodeProc } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { onPath } from '../helpers/on-path.js';

const dockerPath = onPath('docker');

interface Reader {
  proc: ChildProcess;
  out: string;
  err: string;
}

function read(cmd: string, args: string[], env: NodeJS.ProcessEnv): Reader {
  const r: Reader = { proc: spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] }), out: '', err: '' };
  r.proc.stdout!.on('data', (d: Buffer) => (r.out += d.toString()));
  r.proc.stderr!.on('data', (d: Buffer) => (r.err += d.toString()));
  return r;
}

t.test('service events in order across a leader kill: docker events on a follower, shoal events resuming on another manager', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const m2 = await c.join('manager', m1);
  const m3 = await c.join('manager', m1);
  const managers = [m1, m2, m3];
  await waitFor(async () => (await c.http(m1, 'GET', '/nodes')).json<{ ManagerStatus?: { Reachability: string } }[]>().filter((n) => n.ManagerStatus?.Reachability === 'reachable').length === 3, {
    timeoutMs: 30_000,
    what: 'three reachable managers',
  });
  const leader = await c.leader();
  const follower = managers.find((m) => m !== leader)!;
  const api = (n: NodeProc) => `${n.host}:${n.apiPort}`;

  // From a moment before the readers start, so an event made while one is still connecting is not missed.
  const since = String(Math.floor(Date.now() / 1000) - 1);
  const readers: Reader[] = [];
  t.teardown(() => readers.forEach((r) => r.proc.kill('SIGKILL')));
  // shoal events: the leader first, then the others (SHOAL_HOST takes a comma-separated list of managers).
  const order = [leader, ...managers.filter((m) => m !== leader)];
  const shoalEnv = { ...process.env, NODE_OPTIONS: '', SHOAL_HOST: order.map((m) => `tcp://${api(m)}`).join(','), SHOAL_CERT_PATH: c.adminDir() };
  const sh = read(process.execPath, [distFile('bin/shoal.js'), 'events', '--since', since, '--filter', 'type=service', '--format', 'json'], shoalEnv);
  readers.push(sh);
  let dk: Reader | null = null;
  let dockerHome = '';
  if (dockerPath) {
    dockerHome = mkdtempSync(path.join(tmpdir(), 'shoal-docker-'));
    t.teardown(() => rmSync(dockerHome, { recursive: true, force: true }));
    dk = read(dockerPath, ['events', '--since', since, '--filter', 'type=service'], {
      PATH: process.env.PATH ?? '',
      HOME: dockerHome,
      DOCKER_CONFIG: dockerHome,
      DOCKER_HOST: `tcp://${api(follower)}`,
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: c.adminDir(),
    });
    readers.push(dk);
  }
  // Both streams are open once a probe event reaches them: a throwaway service made and removed first.
  const probe = await c.http(leader, 'POST', '/services/create', { Name: 'probe', Mode: { Replicated: { Replicas: 0 } }, TaskTemplate: { ContainerSpec: { Image: 'sleep', Args: ['1'] }, Runtime: 'process' } });
  t.equal(probe.status, 201, probe.body);
  await waitFor(() => sh.out.includes('"probe"') && (!dk || dk.out.includes('name=probe')), { timeoutMs: 20_000, what: `both readers see the probe\nshoal: ${sh.err}\ndocker: ${dk?.err}` });

  const created = await c.http(leader, 'POST', '/services/create', { Name: 'ev', Mode: { Replicated: { Replicas: 0 } }, TaskTemplate: { ContainerSpec: { Image: 'sleep', Args: ['600'] }, Runtime: 'process' } });
  t.equal(created.status, 201, created.body);
  const id = created.json<{ ID: string }>().ID;
  await waitFor(() => sh.out.includes(id), { timeoutMs: 10_000, what: 'shoal events saw the create' });

  // ---- the leader dies; the rest happens under its successor
  await c.kill(leader);
  let next: NodeProc | null = null;
  await waitFor(
    async () => {
      for (const m of managers.filter((x) => x !== leader)) {
        const r = await c.http(m, 'GET', '/info').catch(() => null);
        const info = r?.json<{ Swarm?: { ControlAvailable?: boolean; NodeID?: string } }>();
        const st = await c.http(m, 'GET', `/nodes/${info?.Swarm?.NodeID ?? ''}`).catch(() => null);
        if (st?.status === 200 && st.json<{ ManagerStatus?: { Leader?: boolean } }>().ManagerStatus?.Leader) next = m;
      }
      return next !== null;
    },
    { timeoutMs: 20_000, what: 'a new leader' },
  );
  const svc = (await c.http(next!, 'GET', `/services/${id}`)).json<{ Version: { Index: number }; Spec: { Mode: { Replicated: { Replicas: number } }; Labels?: Record<string, string> } }>();
  svc.Spec.Labels = { changed: 'yes' };
  t.equal((await c.http(next!, 'POST', `/services/${id}/update?version=${svc.Version.Index}`, svc.Spec)).status, 200);
  t.equal((await c.http(next!, 'DELETE', `/services/${id}`)).status, 200);

  const actionsIn = (lines: { Actor: { ID: string }; Action: string }[]) => lines.filter((e) => e.Actor.ID === id).map((e) => e.Action);
  const shoalEvents = () =>
    sh.out
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { Actor: { ID: string }; Action: string; RaftIndex: number; Seq: number });
  await waitFor(() => actionsIn(shoalEvents()).includes('remove'), { timeoutMs: 30_000, what: `shoal events resumed and saw the remove\n${sh.err}\n${sh.out}` });
  t.same(actionsIn(shoalEvents()), ['create', 'update', 'remove'], 'shoal events: create, update, remove, each once');
  const positions = shoalEvents().map((e) => `${e.RaftIndex}.${e.Seq}`);
  t.equal(new Set(positions).size, positions.length, 'no event printed twice');
  t.match(sh.err, /the event stream from \S+ ended; resuming on another manager after \d+\.\d+/, 'it said it resumed, and from where');

  if (!dk) {
    t.comment('the docker CLI is not installed: docker events is not tried');
  } else {
    await waitFor(() => new RegExp(`service remove ${id}`).test(dk!.out), { timeoutMs: 20_000, what: `docker events saw the remove\n${dk.err}\n${dk.out}` });
    const lines = dk.out.split('\n').filter((l) => l.includes(id));
    t.same(
      lines.map((l) => / service (\w+) /.exec(l)?.[1]),
      ['create', 'update', 'remove'],
      'docker events --filter type=service on a follower: create, update, remove, in order',
    );
    t.match(lines[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z service create [0-9a-z]{25} \(name=ev\)$/, "docker's own line format");
  }
  // Bad input: a clear 400 naming the field.
  const bad = await c.http(follower, 'GET', '/events?filters=' + encodeURIComponent('{"colour":["red"]}'));
  t.equal(bad.status, 400);
  t.match(bad.body, /invalid filter 'colour'/);
  const badAfter = await c.http(follower, 'GET', '/events?after=x');
  t.equal(badAfter.status, 400);
  t.match(badAfter.body, /after/);
});
