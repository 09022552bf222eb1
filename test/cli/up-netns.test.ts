/**
 * `shoal up` as root: each node a machine of its own (a network namespace
 * on a bridge, the host on .254). 1 manager + 2 workers come up Ready on
 * their 10.x addresses; an oci busybox httpd service on an overlay network
 * with `-p 8080:80` answers from the host on every node's address (the
 * routing mesh, also on a node without a replica); `shoal down` removes the
 * namespaces, veths and bridge, `shoal up` makes them again, and after the
 * nodes crash a plain `shoal down` (data kept) still leaves none of them, nor
 * their secret tmpfs, mounts or task cgroups. Skipped when not root or when
 * iproute2/nftables/nsenter, busybox-static or crun/runc are missing.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import t from 'tap';
import { netnsUnavailable } from '../../src/cli/local/netns.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { waitFor } from '../helpers/wait.js';
import { shoalProcess } from './helpers.js';

const run = promisify(execFile);

function unavailable(): string | null {
  const why = netnsUnavailable();
  if (why) return `the netns layout is unavailable: ${why}`;
  if (!busyboxBinary()) return 'busybox-static is not installed';
  if (!['/usr/bin/crun', '/usr/sbin/runc', '/usr/bin/runc'].some((p) => existsSync(p))) return 'neither crun nor runc is installed';
  return null;
}
// It ran under `npm run test:full` only for a while: on fresh machines, beside the other `shoal up`
// tests, its manager was read as exited at start (3 of 6 runs). The cause found: between fork and
// exec a new node still shows the CLI's command line, which shoal up's check took for another
// program (4a2b984). It has passed on every fresh clone since.
const skip = unavailable();

interface Recorded {
  netns?: { prefix: string; bridge: string };
  nodes: { name: string; addr: string; pid: number | null; netns?: string; veth?: string }[];
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** The cgroup directories named by these task IDs, in every v1 hierarchy (searched a few levels deep). */
function findCgroups(ids: string[]): string[] {
  const found: string[] = [];
  const walk = (d: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(d, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
    } catch {
      return;
    }
    for (const n of names) {
      if (ids.includes(n)) found.push(path.join(d, n));
      else if (depth < 5) walk(path.join(d, n), depth + 1);
    }
  };
  walk('/sys/fs/cgroup', 0);
  return found;
}

const netnsList = async () => new Set((await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean));
const linkNames = async () => new Set((await run('ip', ['-o', 'link', 'show'])).stdout.split('\n').map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1]).filter((x): x is string => !!x));

t.test('shoal up in network namespaces: Ready on 10.x, published port from the host on every node, down removes what up made', { skip: skip ?? false }, async (t) => {
  const cwd = t.testdir();
  const shoal = (...args: string[]) => shoalProcess(args, { cwd, timeoutMs: 120_000 });
  const file = path.join(cwd, '.shoal', 'cluster.json');
  const recorded = () => JSON.parse(readFileSync(file, 'utf8')) as Recorded;
  const started = new Set<number>();
  t.teardown(async () => {
    if (existsSync(file)) await shoal('down', '--purge', '--grace', '3s');
    for (const pid of started) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  let r = await shoal('up', '--managers', '1', '--workers', '2', '--runtime', 'oci', '--timeout', '90s');
  if (r.code !== 0) {
    // What the nodes said before giving up: shoal up names the log, which the fixture dir takes with it.
    for (const n of ['manager1', 'worker1', 'worker2']) {
      for (const f of ['node.out', 'node.log']) {
        const log = path.join(cwd, '.shoal', n, f);
        if (existsSync(log)) t.comment(`${n}/${f}:\n${readFileSync(log, 'utf8').split('\n').slice(-30).join('\n')}`);
      }
    }
  }
  t.equal(r.code, 0, r.err);
  const c = recorded();
  for (const n of c.nodes) started.add(n.pid!);
  t.ok(c.netns, 'the cluster file records the netns layout');
  const prefix = c.netns!.prefix;
  t.match(prefix, /^10\.\d+\.\d+$/);
  const p = prefix.replace(/\./g, '\\.');
  t.match(r.out, new RegExp(`\\nLayout: network namespaces, each node a machine of its own on ${p}\\.0/24 \\(bridge ${c.netns!.bridge}, this host ${p}\\.254\\)`), 'says which layout it chose');
  const addrs = c.nodes.map((n) => n.addr.split(':')[0]!);
  t.same(addrs, [`${prefix}.11`, `${prefix}.21`, `${prefix}.22`]);
  const have = await netnsList();
  t.ok(c.nodes.every((n) => n.netns && have.has(n.netns)), `three namespaces: ${c.nodes.map((n) => n.netns).join(', ')}`);
  for (const n of c.nodes) {
    const inside = (await run('ip', ['-n', n.netns!, '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout;
    t.match(inside, `${n.addr.split(':')[0]}/24`, `${n.name} holds its address in its namespace`);
  }

  // node ls: every node Ready on its own address (Status.Addr).
  r = await shoal('node', 'ls');
  t.equal(r.code, 0, r.err);
  for (const [i, n] of c.nodes.entries()) t.match(r.out, new RegExp(` ${n.name} +Ready +Active .* ${addrs[i]!.replace(/\./g, '\\.')}\\n`), `${n.name} Ready on ${addrs[i]}`);

  // As a newcomer would: one import, no flags. It goes to a running node of this cluster (not
  // ~/.shoal/node), and the node a task lands on fetches the image from there.
  const imp = await shoal('image', 'import', 'busybox:latest', busyboxRootfs().tarball);
  t.equal(imp.code, 0, imp.err);
  t.match(imp.err, /^Imported busybox:latest into manager1's image store/, 'it says where the image went');
  const ls = await shoal('image', 'ls');
  t.match(ls.out, /^busybox:latest /m, 'image ls reads the same store');
  r = await shoal('network', 'create', '-d', 'overlay', 'app');
  t.equal(r.code, 0, r.err);
  // One replica: at least two nodes have none, and must still answer (the routing mesh).
  // With a secret: its per-task tmpfs is outside the cluster dir (/run/shoal/secrets/<node>), and must not outlive a crash either.
  writeFileSync(path.join(cwd, 'token'), 's3cret\n');
  r = await shoal('secret', 'create', 'token', path.join(cwd, 'token'));
  t.equal(r.code, 0, r.err);
  // On a worker: not where the image was imported, so its node fetches it from manager1.
  r = await shoal('service', 'create', '--name', 'web', '--network', 'app', '--secret', 'token', '--constraint', 'node.role==worker', '-p', '8080:80', '--timeout', '60s', 'busybox:latest', 'sh', '-c', 'echo "web $(hostname)" > /tmp/index.html; exec httpd -f -p 80 -h /tmp');
  t.equal(r.code, 0, `${r.err}${r.out}`);
  for (const a of addrs) {
    const body = await waitFor(
      async () => {
        const got = await run('timeout', ['5', busyboxBinary()!, 'wget', '-qO-', `http://${a}:8080/`]).catch(() => null);
        return got && /^web /.test(got.stdout) ? got.stdout : null;
      },
      { timeoutMs: 20_000, what: `http://${a}:8080/ from the host` },
    );
    t.match(body, /^web /, `the published port answers on ${a} from the host`);
  }

  // down: nodes stopped, what up made removed; data kept.
  r = await shoal('down');
  t.equal(r.code, 0, r.err);
  t.match(r.out, new RegExp(`Removed .*bridge ${c.netns!.bridge}\\n`));
  const nsAfterDown = await netnsList();
  t.ok(c.nodes.every((n) => !nsAfterDown.has(n.netns!)), 'down removed the namespaces');
  t.notOk((await linkNames()).has(c.netns!.bridge), 'and the bridge');

  // up again: the namespaces are made again and the service comes back.
  r = await shoal('up', '--timeout', '90s');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^Restarting manager1, worker1, worker2 of the cluster in \.shoal/);
  for (const n of recorded().nodes) started.add(n.pid!);
  const again = await netnsList();
  t.ok(c.nodes.every((n) => again.has(n.netns!)), 're-up made the namespaces again');
  await waitFor(
    async () => {
      const got = await run('timeout', ['5', busyboxBinary()!, 'wget', '-qO-', `http://${addrs[1]}:8080/`]).catch(() => null);
      return got && /^web /.test(got.stdout) ? true : null;
    },
    { timeoutMs: 60_000, what: `the published port after the restart` },
  );
  t.pass('the published port answers again after the restart');

  // The nodes crash (their supervisors and tasks live on in the namespaces): down --purge still removes everything,
  // the task namespaces too (they are in the host's /run/netns, and their nodes will not run again to remove them).
  const taskNetns = recorded().nodes.flatMap((n) => {
    try {
      return (JSON.parse(readFileSync(path.join(cwd, '.shoal', n.name, 'data', 'overlay-netns.json'), 'utf8')) as { netns: string[] }).netns;
    } catch {
      return [];
    }
  });
  const nsBeforeCrash = await netnsList();
  t.ok(taskNetns.length > 0 && taskNetns.every((n) => nsBeforeCrash.has(n)), `the web task's namespace exists: ${taskNetns.join(', ')}`);
  // The web task's secret tmpfs and cgroups, which the crashed node will never release itself.
  const secretMounts = () => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '').filter((m) => m.startsWith('/run/shoal/secrets/'));
  const nodeIds = recorded().nodes.map((n) => (JSON.parse(readFileSync(path.join(cwd, '.shoal', n.name, 'data', 'node.json'), 'utf8')) as { nodeId: string }).nodeId);
  const ours = () => secretMounts().filter((m) => nodeIds.some((id) => m.startsWith(`/run/shoal/secrets/${id}/`)));
  const webTasks = (await shoal('service', 'ps', 'web', '-q', '--no-trunc', '--filter', 'desired-state=running')).out.split('\n').filter(Boolean);
  const taskCgroups = () => findCgroups(webTasks);
  t.equal(ours().length, 1, `the web task's secrets are on a tmpfs of its own: ${ours().join(', ')}`);
  t.ok(taskCgroups().length > 0, `the web task has cgroups: ${taskCgroups().slice(0, 3).join(', ')}`);
  for (const n of recorded().nodes) process.kill(n.pid!, 'SIGKILL');
  await waitFor(() => recorded().nodes.every((n) => !alive(n.pid!)), { timeoutMs: 10_000, what: 'the killed nodes to be gone' });
  // A plain down (data kept) already stops and releases everything the crashed nodes left.
  r = await shoal('down');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^manager1 was not running\n/m);
  t.match(r.out, /^Stopped \d+ process(es)? \w+ left in its namespace/m, 'what the crashed nodes left running is stopped');
  t.match(r.out, /^Released .*the secret and config mounts of 1 node/m, `it says what it released: ${r.out}`);
  t.match(r.out, /Data kept in \.shoal/);
  t.notOk(readFileSync('/proc/mounts', 'utf8').includes(cwd + '/'), 'nothing stays mounted under the cluster dir');
  t.same(ours(), [], 'no secret tmpfs of the crashed nodes stays mounted');
  t.same(nodeIds.filter((id) => existsSync(`/run/shoal/secrets/${id}`)), [], 'nor their secrets directories');
  t.same(taskCgroups(), [], "nor the web task's cgroups");
  t.ok(existsSync(path.join(cwd, '.shoal', 'cluster.json')), 'the data is kept');
  r = await shoal('down', '--purge');
  t.equal(r.code, 0, r.err);
  t.notMatch(r.out, /Released/, 'down --purge after it finds nothing left to release');
  t.match(r.out, /Removed \.shoal\n$/);
  const ns = await netnsList();
  const links = await linkNames();
  t.same(
    c.nodes.filter((n) => ns.has(n.netns!)).map((n) => n.netns),
    [],
    'no namespace of the cluster is left',
  );
  t.same(taskNetns.filter((n) => ns.has(n)), [], 'no task namespace is left');
  t.same(
    [c.netns!.bridge, ...c.nodes.map((n) => n.veth!)].filter((l) => links.has(l)),
    [],
    'no bridge or veth of the cluster is left',
  );
  t.notOk(existsSync(path.join(cwd, '.shoal')), '.shoal removed');
  t.ok([...started].every((pid) => !alive(pid)), 'no node process left');
  r = await shoal('down');
  t.equal(r.code, 1, 'down again: nothing to stop');
});
