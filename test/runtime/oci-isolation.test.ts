/**
 * What the oci runtime (runc) isolates, checked from inside a real busybox
 * container and from the host: its own pid, mount, uts and ipc namespaces
 * (and, by design for now, the host's network namespace), its init (tini) is PID 1 with the task shell its child
 * in there, it sees only its own processes, its hostname is the task's; and
 * the task's limits land in config.json (linux.resources: cpu quota/period
 * from NanoCPUs, memory, pids) and in the container's cgroup (cpu.cfs_quota_us
 * and cpu.cfs_period_us on cgroup v1, cpu.max on v2), with a busy loop
 * actually throttled. Skipped when runc, root or busybox-static is missing.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { hostname as hostHostname, tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createRuntime, ImageStore, type RuntimeOptions } from '../../src/worker/runtime/index.js';
import { OciRuntime } from '../../src/worker/runtime/oci/oci-runtime.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { waitFor, within } from '../helpers/wait.js';
import { collect, spec, taskId, type SuiteTarget } from './suite.js';

const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-rt-oci-iso-'));
const opts: RuntimeOptions = { dataDir };
const runc = await new OciRuntime(opts).availableFor('runc');

/** The process's path in `controller`'s cgroup hierarchy (v1 line "N:cpu,cpuacct:/p"), or the v2 path ("0::/p") when `controller` is ''. */
function cgroupPathOf(pid: number, controller: string): string | null {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m && (controller === '' ? m[1] === '' : m[1]!.split(',').includes(controller))) return m[2]!;
  }
  return null;
}

/** Where `controller`'s v1 hierarchy is mounted (from /proc/self/mountinfo), with the subtree it shows. */
function v1Mount(controller: string): { mountPoint: string; root: string } | null {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const [fstype, , superOpts] = post.split(' ');
    if (fstype === 'cgroup' && superOpts?.split(',').includes(controller)) {
      const f = pre.split(' ');
      return { root: f[3]!, mountPoint: f[4]! };
    }
  }
  return null;
}

if (!runc.ok) {
  t.plan(0, `oci runtime unavailable: ${runc.reason}`);
} else if (!busyboxBinary()) {
  t.plan(0, 'busybox-static is not installed: no test image');
} else {
  const store = new ImageStore(path.join(dataDir, 'images'));
  await store.import('busybox:latest', busyboxRootfs().tarball);
  const rt = createRuntime('oci', opts);
  const target: SuiteTarget = { label: 'oci', runtime: 'oci', opts, image: 'busybox', enforcesLimits: true, make: () => rt, exitedOutsideRuntime: async () => {} };
  t.teardown(async () => {
    for (const i of await rt.list()) await rt.remove(i.taskId).catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  const hostNs = (ns: string) => readlinkSync(`/proc/self/ns/${ns}`);
  const NS = ['pid', 'mnt', 'uts', 'ipc', 'net'] as const;

  t.test('oci: own pid, mount, uts and ipc namespaces; PID 1 is the init, the task its child; the hostname is the task’s; limits in config.json and the cgroup', async (t) => {
    const id = taskId('iso');
    const nanoCpus = 500_000_000; // 0.5 CPU
    const memoryBytes = 64 * 1024 * 1024;
    const script = [
      ...NS.map((n) => `echo "ns ${n} $(readlink /proc/self/ns/${n})"`),
      'echo "self $$"',
      'echo "ppid $PPID"',
      `echo "pid1 $(tr '\\0' ' ' < /proc/1/cmdline)"`,
      "echo \"procs $(ls /proc | grep -c '^[0-9][0-9]*$')\"",
      'echo "hostname $(hostname)"',
      'echo "root $(grep " / " /proc/mounts | head -1 | cut -d" " -f3)"',
      'echo ready',
      // Burn CPU until told to stop (the file appears in the container's writable layer), so the quota is seen throttling.
      'while [ ! -e /tmp/stop ]; do :; done',
      'echo stopping',
    ].join('; ');
    const s = spec(target, id, { command: ['sh', '-c', script], hostname: 'iso-box', limits: { nanoCpus, memoryBytes, pids: 64 } });
    await rt.prepare(s);
    await rt.create(s);

    // config.json, as the runtime wrote it.
    const taskDir = path.join(dataDir, 'runtime', 'oci', 'tasks', id);
    const config = JSON.parse(readFileSync(path.join(taskDir, 'bundle', 'config.json'), 'utf8')) as {
      hostname: string;
      linux: { namespaces: { type: string; path?: string }[]; resources: { cpu?: { quota: number; period: number }; memory?: { limit: number }; pids?: { limit: number } }; cgroupsPath: string };
    };
    t.same(config.linux.namespaces.map((n) => n.type).sort(), ['ipc', 'mount', 'pid', 'uts'], 'config.json: new pid, mount, uts, ipc namespaces (no net: host network)');
    t.notOk(config.linux.namespaces.some((n) => n.path), 'none joins an existing namespace');
    t.same(config.linux.resources.cpu, { period: 100_000, quota: 50_000 }, 'config.json: NanoCPUs 0.5e9 -> quota 50000 / period 100000');
    t.same(config.linux.resources.memory, { limit: memoryBytes }, 'config.json: memory limit');
    t.same(config.linux.resources.pids, { limit: 64 }, 'config.json: pids limit');
    t.equal(config.hostname, 'iso-box');

    await rt.start(id);
    try {
      await waitFor(async () => (await collect(rt, id)).some((l) => l.line === 'ready'), { timeoutMs: 20_000, what: 'the container to report' });
      const lines = (await collect(rt, id)).filter((l) => l.stream === 'stdout').map((l) => l.line);
      const get = (k: string) => lines.find((l) => l.startsWith(`${k} `))?.slice(k.length + 1);
      t.comment(lines.filter((l) => !l.startsWith('pid1 ') && l !== 'ready').join(' | '));

      // Namespaces, from inside, against this (host) process's.
      for (const n of ['pid', 'mnt', 'uts', 'ipc'] as const) {
        const inside = get(`ns ${n}`);
        t.match(inside, new RegExp(`^${n}:\\[\\d+\\]$`), `${n} namespace readable inside (${inside})`);
        t.not(inside, hostNs(n), `${n} namespace differs from the host's (${hostNs(n)})`);
      }
      t.equal(get('ns net'), hostNs('net'), 'net namespace is the host’s (host networking, as bundle.ts documents)');

      // PID 1 is the init that ties the container to the node's supervisor (tini, as under
      // `docker run --init`); the task is its child, and the container sees only its own processes.
      t.not(get('self'), '1', `the task shell is not PID 1 inside (${get('self')})`);
      t.equal(get('ppid'), '1', 'its parent is PID 1, the init');
      t.match(get('pid1'), /^\/sbin\/shoal-init -p SIGKILL -- sh -c .*readlink \/proc\/self\/ns\/pid/, 'PID 1 is the init, running the task command');
      const procs = Number(get('procs'));
      t.ok(procs >= 1 && procs <= 5, `only the container’s processes are visible (${procs} under /proc; the host has ${hostProcessCount()})`);
      t.equal(get('hostname'), 'iso-box', 'hostname is the task’s');
      t.not(hostHostname(), 'iso-box', 'and not the host’s');
      t.equal(get('root'), 'overlay', 'the root filesystem is the task’s overlay');

      // From the host: the container's init is PID 1 in its own pid namespace.
      const pid = Number(readFileSync(path.join(taskDir, 'container.pid'), 'utf8').trim());
      t.ok(pid > 1, `container init is host PID ${pid}`);
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.split(/\s+/);
      t.same(nspid, [String(pid), '1'], 'NSpid: host PID, then 1 in the container’s namespace');
      t.equal(readlinkSync(`/proc/${pid}/ns/pid`), get('ns pid'), 'the host sees the same pid namespace the container reported');

      // The cgroup the container runs in, and the cpu limit written there.
      const unified = !v1Mount('cpu');
      if (unified) {
        const p = cgroupPathOf(pid, '');
        t.ok(p?.endsWith(`/${id}`), `v2 cgroup ${p} is the task’s`);
        t.equal(readFileSync(path.join('/sys/fs/cgroup', p!, 'cpu.max'), 'utf8').trim(), '50000 100000', 'cpu.max = quota period');
      } else {
        const p = cgroupPathOf(pid, 'cpu');
        t.ok(p?.endsWith(`/shoal/${id}`), `cpu cgroup ${p} is <parent>/shoal/<task>`);
        const m = v1Mount('cpu')!;
        const dir = path.join(m.mountPoint, m.root !== '/' && p!.startsWith(m.root) ? p!.slice(m.root.length) : p!);
        t.ok(existsSync(dir), `cgroup dir ${dir}`);
        t.equal(readFileSync(path.join(dir, 'cpu.cfs_period_us'), 'utf8').trim(), '100000', 'cpu.cfs_period_us');
        t.equal(readFileSync(path.join(dir, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000', 'cpu.cfs_quota_us: half a CPU');
        const mp = cgroupPathOf(pid, 'memory');
        const mm = v1Mount('memory');
        if (mp && mm) {
          const mdir = path.join(mm.mountPoint, mm.root !== '/' && mp.startsWith(mm.root) ? mp.slice(mm.root.length) : mp);
          t.equal(readFileSync(path.join(mdir, 'memory.limit_in_bytes'), 'utf8').trim(), String(memoryBytes), 'memory.limit_in_bytes');
        }
        // The quota bites: the busy loop gets throttled.
        const throttled = await waitFor(
          () => {
            const n = Number(/^nr_throttled (\d+)$/m.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'))?.[1] ?? 0);
            return n > 0 ? n : 0;
          },
          { timeoutMs: 15_000, what: 'cpu.stat nr_throttled > 0 for a busy loop under a 0.5 CPU quota' },
        );
        t.ok(throttled > 0, `the busy loop was throttled (${throttled} periods)`);
      }
    } finally {
      await rt.exec!(id, ['touch', '/tmp/stop'], 10_000).catch(() => undefined);
      await within(rt.stop(id, 2_000), 15_000, 'stop');
      await rt.remove(id);
    }
    t.notOk(existsSync(taskDir), 'task removed');
  });
}

/** How many processes this (host) PID namespace shows. */
function hostProcessCount(): number {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
}
