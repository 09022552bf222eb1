/**
 * `shoal up` with its default sizes (3 managers, 2 workers) once, in a temp
 * working directory, then the README's `eval "$(shoal env)"` in a real shell
 * followed by the real docker CLI's `docker node ls`: five Ready nodes, one
 * Leader and two Reachable managers; then `shoal down --purge`. The time
 * `shoal up` took is printed as a comment, not asserted (speed is shown by
 * benchmarks and printouts, not by timed tests). Only --ip-prefix is set,
 * so the nodes get loopback addresses of their own beside other tests.
 * Skipped when there is no docker CLI on PATH.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { distFile } from '../helpers/dist.js';
import { claimOctets } from '../helpers/octets.js';
import { shoalProcess } from './helpers.js';

const docker = spawnSync('docker', ['--version'], { encoding: 'utf8' });
const dockerPresent = docker.status === 0;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

t.test('shoal up (defaults: 3 managers, 2 workers), eval "$(shoal env)", docker node ls, shoal down --purge', { skip: dockerPresent ? false : 'docker CLI not on PATH' }, async (t) => {
  t.comment(`docker CLI: ${docker.stdout.trim()}`);
  const cwd = t.testdir();
  const home = path.join(cwd, 'home');
  mkdirSync(home);
  const prefix = `127.0.${claimOctets(250, 256)}`;
  const shoal = (...args: string[]) => shoalProcess(args, { cwd, timeoutMs: 90_000 });
  const started = new Set<number>();
  t.teardown(() => {
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  const t0 = Date.now();
  const up = await shoal('up', '--ip-prefix', prefix);
  const upMs = Date.now() - t0;
  if (up.code !== 0) {
    // `shoal up` removed its half-made cluster (and cluster.json) but kept each node's log: say what they said.
    t.fail(`shoal up failed after ${upMs} ms: ${up.err.trim()}`);
    for (const name of readdirSync(path.join(cwd, '.shoal'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)) {
      const log = path.join(cwd, '.shoal', name, 'node.log');
      if (existsSync(log)) t.comment(`${name}/node.log, warnings and errors:\n${readFileSync(log, 'utf8').split('\n').filter((l) => /"level":"(warn|error|fatal)"/.test(l)).slice(-40).join('\n')}`);
    }
    return;
  }
  for (const n of (JSON.parse(readFileSync(path.join(cwd, '.shoal', 'cluster.json'), 'utf8')) as { nodes: { pid: number | null }[] }).nodes) if (n.pid) started.add(n.pid);
  t.equal(up.code, 0, up.err);
  t.comment(`shoal up (defaults: 3 managers, 2 workers): ${upMs} ms wall, including the CLI's own start`);
  t.comment(`the CLI says: ${/Shoal cluster up in .*/.exec(up.out)?.[0] ?? '(no summary line)'}`);
  t.match(up.out, /Shoal cluster up in [\d.]+s: 3 managers, 2 workers/);
  t.equal(started.size, 5, 'five node processes');

  // The README's way: eval the exports in a shell, then use the real docker CLI. A scrubbed
  // environment: no inherited DOCKER_* or proxies, a throwaway HOME/DOCKER_CONFIG.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, DOCKER_CONFIG: path.join(home, '.docker'), DOCKER_CLI_HINTS: 'false', NODE_OPTIONS: '' };
  const script = `eval "$("${process.execPath}" "${distFile('bin/shoal.js')}" env)" && echo "DOCKER_HOST=$DOCKER_HOST DOCKER_TLS_VERIFY=$DOCKER_TLS_VERIFY" && docker node ls`;
  const r = await new Promise<{ code: number; out: string; err: string }>((resolve) => {
    execFile('sh', ['-c', script], { cwd, env, timeout: 30_000 }, (e, out, err) => resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out: String(out), err: String(err) }));
  });
  t.equal(r.code, 0, `eval + docker node ls succeed (${r.err.trim()})`);
  const [hostLine, header, ...rows] = r.out.trim().split('\n');
  t.equal(hostLine, `DOCKER_HOST=tcp://${prefix}.11:2375 DOCKER_TLS_VERIFY=1`, 'shoal env pointed DOCKER_HOST at the first manager, over TLS');
  t.match(header, /^ID\s+HOSTNAME\s+STATUS\s+AVAILABILITY\s+MANAGER STATUS\s+ENGINE VERSION/, 'docker’s node table');
  t.comment(`\n${r.out.trim()}`);
  t.equal(rows.length, 5, 'docker node ls lists 5 nodes');
  t.equal(rows.filter((l) => /\sReady\s+Active\s/.test(l)).length, 5, 'all Ready and Active');
  t.equal(rows.filter((l) => /\sLeader(\s|$)/.test(l)).length, 1, 'one Leader');
  t.equal(rows.filter((l) => /\sReachable(\s|$)/.test(l)).length, 2, 'two Reachable managers');
  t.same(rows.map((l) => /\s(manager\d|worker\d)\s/.exec(l)?.[1]).sort(), ['manager1', 'manager2', 'manager3', 'worker1', 'worker2'], 'the default node names');
  t.equal(rows.filter((l) => /^\S+ \*\s/.test(l)).length, 1, 'the node docker talks to is marked with *');

  const down = await shoal('down', '--purge');
  t.equal(down.code, 0, down.err);
  t.match(down.out, /Removed \.shoal\n$/);
  t.equal(down.out.match(/^Stopped \S+ \(pid \d+\)$/gm)?.length, 5, 'five nodes stopped');
  t.notOk(existsSync(path.join(cwd, '.shoal')), '.shoal removed');
  t.ok([...started].every((p) => !alive(p)), 'no node process left');
});
