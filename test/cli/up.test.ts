/**
 * `shoal up`, `shoal env`, `shoal leave` and `shoal down` end to end in a
 * temporary working directory: real background node processes, checked
 * through the CLI itself. Small sizes (1 manager, 1 worker) on a loopback
 * prefix of its own, so it runs beside other tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { waitFor } from '../helpers/wait.js';
import { claimOctets } from '../helpers/octets.js';
import { oneLineError, shoalInProcess, shoalProcess } from './helpers.js';
import { parseRecord } from '../../src/util/log/pretty.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

t.test('up, env, node ls, down, up again (restart), leave, down --purge', async (t) => {
  const cwd = t.testdir();
  const prefix = `127.0.${claimOctets(200, 250)}`;
  const shoal = (...args: string[]) => shoalProcess(args, { cwd, timeoutMs: 90_000 });
  // Commands that only read or refuse on the local cluster run in-process through main()
  // (bin/shoal.js's code path, without a Node start), from the same working directory: they
  // find ./.shoal and name paths relative to it exactly as the real process does.
  const shoalHere = async (...args: string[]) => {
    const prev = process.cwd();
    process.chdir(cwd);
    try {
      return await shoalInProcess(...args);
    } finally {
      process.chdir(prev);
    }
  };
  const pids = () => (JSON.parse(readFileSync(path.join(cwd, '.shoal', 'cluster.json'), 'utf8')) as { nodes: { name: string; pid: number | null }[] }).nodes;
  const started = new Set<number>();
  t.teardown(() => {
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  const t0 = Date.now();
  let r = await shoal('up', '--managers', '1', '--workers', '1', '--ip-prefix', prefix);
  const upMs = Date.now() - t0;
  t.equal(r.code, 0, r.err);
  t.comment(`shoal up (1 manager, 1 worker): ${upMs} ms wall, including the CLI's own start`);
  t.match(r.out, /Shoal cluster up in [\d.]+s: 1 manager, 1 worker \(data and logs in \.shoal\)\./);
  t.match(r.out, /manager1 +Ready +Active +Leader/);
  t.match(r.out, /worker1 +Ready +Active/);
  t.match(r.out, /eval "\$\(npx shoal env\)"/);
  t.match(r.out, new RegExp(`\\nLayout: loopback, every node on ${prefix.replace(/\./g, '\\.')}\\.x in this machine's network \\(--ip-prefix ${prefix.replace(/\./g, '\\.')} is a loopback prefix\\): overlay networks and published ports need root with iproute2, nftables and nsenter \\(network namespaces\\), so tasks that join a network are rejected here\\.\\n`), 'says which layout it chose, and why');
  t.match(r.out, /\nDefault task runtime: process \(the default: it needs no root, runc, images or Docker Engine[^\n]*\n {2}tasks are host processes and IMAGE is the program[^\n]*\n {2}Override per service with --runtime oci\|docker \(available: oci on \d\/2 nodes, docker on \d\/2 nodes\)\.\n/, 'says which runtime tasks get and why');
  for (const n of pids()) started.add(n.pid!);
  t.equal(started.size, 2);
  t.ok([...started].every(alive), 'both node processes run in the background after `shoal up` exited');
  t.ok(existsSync(path.join(cwd, '.shoal', 'manager1', 'node.log')) && existsSync(path.join(cwd, '.shoal', 'worker1', 'data', 'node.json')), 'one dir per node: data and log');
  t.match(r.out, /\nLogs: \.shoal\/<node>\/node\.log \(JSON records, rotated at 10 MiB × 5\); `shoal node logs <node>`/, 'says where the logs are');
  // The node writes its own JSON log (rotated: --log-file); what the process printed goes beside it.
  const nodeLog = readFileSync(path.join(cwd, '.shoal', 'worker1', 'node.log'), 'utf8').trimEnd().split('\n');
  t.ok(nodeLog.length > 2 && nodeLog.every((l) => (parseRecord(l)?.node ?? '').length === 25), 'node.log: JSON records, each naming its node');
  t.match(readFileSync(path.join(cwd, '.shoal', 'worker1', 'node.out'), 'utf8'), /This node joined a swarm as a worker/, 'node.out: the process’s own output');
  r = await shoal('node', 'logs', '--tail', '2', 'worker1');
  t.equal(r.code, 0, r.err);
  t.equal(r.out.trimEnd().split('\n').length, 2, 'shoal node logs reads it through the API');

  // Every API command finds the cluster through ./.shoal.
  r = await shoal('node', 'ls');
  t.equal(r.code, 0, r.err);
  t.equal(r.out.split('\n').filter((l) => / Ready /.test(l)).length, 2, 'two Ready nodes through the CLI');

  // The command: no --runtime, `--` before the program. It ran `300` (exit 127, restarted forever); now `sleep 300`.
  r = await shoal('service', 'create', '--name', 'demo', '--replicas', '2', '--timeout', '30s', '--', 'sleep', '300');
  t.equal(r.code, 0, `${r.err}${r.out}`);
  t.match(r.out, /2\/2 running/, 'converged: both tasks run');
  // A program no node has: rejected at create, and `service ps` says why.
  r = await shoal('service', 'create', '-d', '--name', 'bad', '--', '300');
  t.equal(r.code, 0, r.err);
  const ps = await waitFor(
    async () => {
      const out = (await shoal('service', 'ps', '--no-trunc', 'bad')).out;
      return /Rejected/.test(out) ? out : null;
    },
    { timeoutMs: 20_000, what: 'the bad task to be rejected' },
  );
  t.match(ps, /bad\.1 +300 +\S+ +\w+ +Rejected [^\n]*"executable file not found: \\"300\\" \(searched PATH=/, 'the reason in the ERROR column');
  t.match((await shoal('service', 'ps', 'bad')).out, /"executable file not found: /, 'also when truncated');
  t.equal((await shoal('service', 'rm', 'demo', 'bad')).code, 0);

  r = await shoalHere('env');
  t.equal(r.code, 0, r.err);
  const p = prefix.replace(/\./g, '\\.');
  t.match(r.out, new RegExp(`^export SHOAL_HOST=tcp://${p}\\.11:2375\\nexport SHOAL_CERT_PATH=/\\S+/manager1/data/admin\\nexport DOCKER_HOST=tcp://${p}\\.11:2375\\nexport DOCKER_TLS_VERIFY=1\\nexport DOCKER_CERT_PATH=/\\S+/manager1/data/admin\\n`));
  t.match((await shoalHere('env', '--unix')).out, /^export SHOAL_HOST=unix:\/\/\/\S+\.sock\nexport DOCKER_HOST=unix:\/\/\/\S+\.sock\nunset SHOAL_CERT_PATH DOCKER_TLS_VERIFY DOCKER_CERT_PATH\n/);
  t.match((await shoalHere('env', '-u')).out, /^unset SHOAL_HOST SHOAL_CERT_PATH DOCKER_HOST DOCKER_TLS_VERIFY DOCKER_CERT_PATH\n/);

  r = await shoal('up');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^A Shoal cluster is already running in \.shoal: 1 manager, 1 worker\./);

  r = await shoalHere('leave', 'manager1');
  t.equal(oneLineError(r), null);
  t.match(r.err, /manager1 is a manager: removing the last manager erases the cluster; use --force/);

  r = await shoal('down');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /Stopped manager1 \(pid \d+\)\n/);
  t.match(r.out, /Stopped worker1 \(pid \d+\)\n/);
  t.ok([...started].every((p) => !alive(p)), 'down stopped every node process');
  t.ok(existsSync(path.join(cwd, '.shoal', 'manager1', 'data', 'node.json')), 'data kept without --purge');
  t.equal(oneLineError(await shoal('node', 'ls')), null, 'a stopped cluster: one line');

  r = await shoal('up');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^Restarting manager1, worker1 of the cluster in \.shoal/);
  t.match(r.out, /manager1 +Ready +Active +Leader/);
  for (const n of pids()) started.add(n.pid!);

  const worker = pids().find((n) => n.name === 'worker1')!.pid!;
  r = await shoal('leave', 'worker1');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^Node worker1 left the swarm\.\n/);
  t.notOk(alive(worker), 'its process stopped');
  t.notOk(existsSync(path.join(cwd, '.shoal', 'worker1')), 'its data is gone');
  t.same(pids().map((n) => n.name), ['manager1']);

  r = await shoal('down', '--purge');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /Stopped manager1 \(pid \d+\)\nRemoved \.shoal\n$/);
  t.notOk(existsSync(path.join(cwd, '.shoal')), '.shoal removed');
  t.ok([...started].every((p) => !alive(p)), 'no node process left');
  r = await shoalHere('down');
  t.equal(oneLineError(r), null);
  t.match(r.err, /no cluster in \.shoal: nothing to stop/);
});
