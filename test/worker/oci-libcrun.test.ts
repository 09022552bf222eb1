/**
 * crun containers started by libcrun inside the node's forker
 * (supervisor/forker-libcrun.h), end to end on a real node run with
 * `--oci-runtime crun`: wherever this machine's crun package lets the forker
 * be linked with libcrun (supervisor/forker-libcrun.ts says whether), every
 * container's runtime process is a child of the forker that never exec'd
 * crun, and the task behaves as under the crun binary: the container runs
 * under its init with the runtime as parent, stdout and stderr reach the
 * logs, a plain exit code and an OOM kill (137) come through, and removing
 * the service stops the containers and leaves no crun state behind.
 * Skipped without root, crun, busybox-static, or a libcrun the forker can
 * link (the reason is printed).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ImageStore } from '../../src/worker/runtime/images/store.js';
import { createRuntime } from '../../src/worker/runtime/index.js';
import { INIT_CANDIDATES } from '../../src/worker/runtime/oci/oci-runtime.js';
import { libcrunLink } from '../../src/worker/supervisor/forker-libcrun.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { ProcCluster, procs } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

interface ApiTask {
  ID: string;
  Status: { State: string; Err?: string; ContainerStatus?: { ExitCode?: number; PID?: number } };
}

const crun = await createRuntime('oci', { dataDir: '/nonexistent', oci: { runtime: 'crun' } }).available();
const link = libcrunLink();

const cmdline = (pid: number): string[] => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
};
/** The parent of `pid` in a fresh look at the process table (0: gone). */
const ppid = (pid: number): number => procs().find((p) => p.pid === pid)?.ppid ?? 0;

if (!crun.ok) t.plan(0, `crun unavailable: ${crun.reason}`);
else if (!INIT_CANDIDATES.some((p) => existsSync(p))) t.plan(0, `no container init (${INIT_CANDIDATES.join(' or ')}): install tini`);
else if (!busyboxBinary()) t.plan(0, 'busybox-static is not installed: no test image');
else if (!('flags' in link)) t.plan(0, `the forker cannot be linked with libcrun here: ${link.why}`);
else {
  t.test('crun containers run by libcrun in the forker: same tree, logs, exit codes, OOM, clean removal', async (t) => {
    const c = new ProcCluster();
    t.teardown(() => c.close());
    const m1 = await c.init({ args: ['--oci-runtime', 'crun'] });
    await new ImageStore(path.join(m1.dataDir, 'images')).import('busybox:latest', busyboxRootfs().tarball);
    const create = async (name: string, command: string[], replicas: number, limits: object = {}) => {
      const r = await c.http(m1, 'POST', '/services/create', {
        Name: name,
        TaskTemplate: { Runtime: 'oci', ContainerSpec: { Image: 'busybox:latest', Command: command }, Resources: { Limits: limits }, RestartPolicy: { Condition: 'none' } },
        Mode: { Replicated: { Replicas: replicas } },
      });
      t.equal(r.status, 201, r.body);
    };
    const tasks = async (name: string) => (await c.http(m1, 'GET', `/tasks?filters=${encodeURIComponent(JSON.stringify({ service: [name] }))}`)).json<ApiTask[]>();

    // Held containers: who their runtime process is.
    const marker = `libcrun-held-${process.pid}`;
    await create('held', ['sh', '-c', `exec sleep 300 # ${marker}`], 4);
    await waitFor(async () => (await tasks('held')).filter((x) => x.Status.State === 'running').length === 4, { timeoutMs: 60_000, intervalMs: 200, what: '4 held tasks running' });
    // The container's init carries the command line (the shell execs sleep, which drops it).
    const inits = await waitFor(
      () => {
        const found = procs()
          .map((p) => p.pid)
          .filter((p) => cmdline(p)[0] === '/sbin/shoal-init' && cmdline(p).join(' ').includes(marker));
        return found.length === 4 ? found : null;
      },
      { timeoutMs: 10_000, what: "the 4 containers' init processes" },
    );
    for (const init of inits) {
      // Running means the PID file was written: the init may not have started the task yet.
      await waitFor(() => procs().some((p) => p.ppid === init && cmdline(p.pid).join(' ') === 'sleep 300'), { timeoutMs: 10_000, what: "the task under the container's init" });
      const runtime = ppid(init);
      const argv = cmdline(runtime);
      t.not(path.basename(argv[0] ?? ''), 'crun', 'the runtime process is not an exec of crun');
      t.ok(argv[0]?.endsWith(path.join('native', 'shoal-forker')), `the runtime process is a forker child: ${argv.join(' ')}`);
      t.same(cmdline(ppid(runtime)), argv, "and its parent is the supervisor's forker");
    }
    const crunState = path.join(m1.dataDir, 'runtime', 'oci', 'crun');
    t.equal(readdirSync(crunState).length, 4, "crun's state has the 4 containers");

    // Output and exit codes.
    await create('three', ['sh', '-c', 'exit 3'], 1);
    await create('talker', ['sh', '-c', 'echo to-out; echo to-err >&2; exec sleep 300'], 1);
    await create('oom', ['tail', '/dev/zero'], 1, { MemoryBytes: 32 * 1024 * 1024 });
    const ended = (name: string) =>
      waitFor(async () => (await tasks(name)).find((x) => ['failed', 'complete'].includes(x.Status.State)), { timeoutMs: 60_000, intervalMs: 200, what: `${name}'s task to end` });
    const three = await ended('three');
    t.equal(three.Status.ContainerStatus?.ExitCode, 3, 'exit code 3');
    const talker = await waitFor(async () => (await tasks('talker')).find((x) => x.Status.State === 'running'), { timeoutMs: 60_000, intervalMs: 200, what: 'the talker running' });
    const logs = await waitFor(
      async () => {
        const body = (await c.http(m1, 'GET', `/tasks/${talker.ID}/logs?stdout=1&stderr=1`)).body;
        return /to-out/.test(body) && /to-err/.test(body) ? body : null;
      },
      { timeoutMs: 15_000, intervalMs: 200, what: "the task's stdout and stderr in its logs" },
    );
    t.match(logs, /to-out[^]*to-err|to-err[^]*to-out/, 'stdout and stderr reached the logs');
    const oom = await ended('oom');
    t.equal(oom.Status.ContainerStatus?.ExitCode, 137, 'OOM kill: exit code 137');
    t.match(oom.Status.Err, /OOM killer/, `and says so: ${oom.Status.Err}`);

    // Removal: the stop signal reaches the containers through crun kill, and crun's state goes with them.
    t.equal((await c.http(m1, 'DELETE', '/services/held')).status, 200);
    t.equal((await c.http(m1, 'DELETE', '/services/talker')).status, 200);
    await waitFor(() => inits.every((p) => !existsSync(`/proc/${p}`)), { timeoutMs: 30_000, what: 'the held containers to stop' });
    await waitFor(() => readdirSync(crunState).length === 0, { timeoutMs: 30_000, what: "crun's state of the removed containers to go" });
    t.pass('stopped, and no crun state left');
  });
}
