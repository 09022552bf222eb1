/**
 * The floor under bench:density's oci figure: what this machine needs to
 * start N containers with no orchestrator at all — per container an overlay
 * mount of the same image and `<crun|runc> run --detach` of a minimal bundle
 * (pid, ipc, uts and mount namespaces; /proc, /dev, /sys; its own cgroup),
 * in two lanes (one per core of the 2-core reference machine). Printed
 * beside Shoal's figure as `oci_floor_ms`, so "how far from the runtime's
 * own cost" is read off one run.
 *
 * `oci_floor_libcrun_ms` is the same N through what Shoal's node uses where
 * it can (supervisor/forker-libcrun.h): the C forker mounts each overlay by
 * system call and runs each container by libcrun in a fork of itself, in
 * the foreground as the node does, a container counting as started when its
 * PID file is written. Null where the forker is not linked with libcrun.
 *
 * `oci_floor_libcrun_full_ms` is that again with each container configured
 * as the node configures a task's (bundle.ts buildConfig: Docker's mounts,
 * masked and read-only paths, capabilities, device rules, tini as PID 1):
 * the minimal bundle above leaves out work every Shoal container does, so
 * this is the floor to read Shoal's figure against.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { capture } from '../src/worker/runtime/common/capture.js';
import { DEFAULT_PATH } from '../src/worker/runtime/options.js';
import { forkerAvailable, TaskForker, type ForkedTask } from '../src/worker/supervisor/forker.js';
import { libcrunLink } from '../src/worker/supervisor/forker-libcrun.js';
import { buildConfig } from '../src/worker/runtime/oci/bundle.js';
import { findInit } from '../src/worker/runtime/oci/oci-runtime.js';


/** The image store's rootfs of the one imported image (bench:density imports busybox only). */
export function imageRootfs(dataDir: string): string | null {
  const dir = path.join(dataDir, 'images', 'images');
  try {
    const id = readdirSync(dir).find((d) => /^[0-9a-f]{64}$/.test(d));
    return id ? path.join(dir, id, 'rootfs') : null;
  } catch {
    return null;
  }
}

function config(id: string): object {
  return {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/sleep', '86400'], env: ['PATH=/bin'], cwd: '/' },
    root: { path: 'rootfs', readonly: false },
    hostname: id,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: { cgroupsPath: `shoal-floor/${id}`, namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }] },
  };
}

interface Bundles {
  base: string;
  state: string;
  ids: string[];
}

/** As the node configures a task's container (bundle.ts), for a `sleep 86400` task of an image of `lowerdir`. */
function shoalConfig(id: string, dir: string, lowerdir: string): object {
  const init = findInit();
  return buildConfig({
    spec: { taskId: id, name: id, image: 'busybox:latest', command: ['/bin/sleep', '86400'], env: [], mounts: [], limits: {}, labels: {} },
    image: { id: `sha256:${'0'.repeat(64)}`, name: 'busybox:latest', config: {}, size: 0, created: new Date(0).toISOString(), source: 'tarball', rootfs: lowerdir },
    rootfs: lowerdir,
    taskDir: dir,
    cgroupsPath: `shoal-floor/${id}`,
    volumesDir: path.join(dir, 'volumes'),
    ...(init ? { init } : {}),
  });
}

function bundles(n: number, lowerdir: string, as: 'minimal' | 'shoal'): Bundles {
  const base = mkdtempSync(path.join(tmpdir(), 'shoal-oci-floor-'));
  const ids = Array.from({ length: n }, (_, i) => `floor${i}`);
  for (const id of ids) {
    const d = path.join(base, id);
    for (const sub of ['rootfs', 'upper', 'work']) mkdirSync(path.join(d, sub), { recursive: true });
    writeFileSync(path.join(d, 'config.json'), JSON.stringify(as === 'shoal' ? shoalConfig(id, d, lowerdir) : config(id)));
  }
  return { base, state: path.join(base, 'state'), ids };
}

async function cleanup(binary: string, b: Bundles): Promise<void> {
  for (const id of b.ids) {
    if (existsSync(path.join(b.state, id))) await capture([binary, '--root', b.state, 'delete', '--force', id], { timeoutMs: 30_000 });
    await capture(['umount', path.join(b.base, id, 'rootfs')], { timeoutMs: 30_000 });
  }
  rmSync(b.base, { recursive: true, force: true });
}

const PATH = process.env.PATH ?? DEFAULT_PATH;

/** Starts n containers in `lanes` parallel lanes; ms until the last `run -d` returned, or null if any failed. Cleans up after. */
export async function ociFloorMs(binary: string, lowerdir: string, n: number, lanes = 2): Promise<number | null> {
  const b = bundles(n, lowerdir, 'minimal');
  // Each lane is one shell running its containers one after another (a shell's fork is cheaper than ours).
  const lane = (k: number) => {
    const mine = b.ids.filter((_, i) => i % lanes === k);
    const script = 'for id in "$@"; do d="$B/$id"; mount -t overlay overlay -o "lowerdir=$L,upperdir=$d/upper,workdir=$d/work" "$d/rootfs" && "$R" --root "$S" run --detach --bundle "$d" "$id" >/dev/null 2>&1 || exit 1; done';
    const env = { PATH, B: b.base, L: lowerdir, R: binary, S: b.state };
    return capture(['sh', '-c', script, 'lane', ...mine], { env, timeoutMs: 600_000 }).then((r) => r.exitCode);
  };
  const started = performance.now();
  const codes = await Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)));
  const failed = codes.some((c) => c !== 0);
  const ms = Math.round(performance.now() - started);
  await cleanup(binary, b);
  return failed ? null : ms;
}

const exited = (task: ForkedTask) => new Promise<number | null>((r) => (task.exitCode !== null ? r(task.exitCode) : task.once('exit', (code: number | null) => r(code))));

/**
 * The same through the C forker's mount and libcrun paths (see the header),
 * the containers configured minimally or as the node configures them; null
 * where it has no libcrun for `binary`.
 */
export async function ociFloorLibcrunMs(binary: string, lowerdir: string, n: number, as: 'minimal' | 'shoal' = 'minimal', lanes = 2): Promise<number | null> {
  const bin = forkerAvailable();
  const link = libcrunLink();
  if (bin?.kind !== 'c' || !('flags' in link) || realpathSync(binary) !== link.binary) return null;
  const forker = new TaskForker(bin, () => {});
  const b = bundles(n, lowerdir, as);
  const running: ForkedTask[] = [];
  const runOne = async (id: string): Promise<boolean> => {
    const d = path.join(b.base, id);
    const mount = forker.spawn({ argv: ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerdir},upperdir=${d}/upper,workdir=${d}/work`, `${d}/rootfs`], env: { PATH }, killGroupOnExit: true });
    if ((await exited(mount)) !== 0) return false;
    const pidFile = path.join(d, 'container.pid');
    const task = forker.spawn({ argv: [binary, '--root', b.state, 'run', '--bundle', d, '--pid-file', pidFile, id], env: { PATH }, killGroupOnExit: true });
    running.push(task);
    task.once('spawn', () => {
      task.stdout?.resume();
      task.stderr?.resume();
    });
    // Started when its PID is written (what the node's supervisor waits for), polled finely: this is the floor.
    for (;;) {
      if (Number(readFileSafe(pidFile)) > 0) return true;
      if (task.exitCode !== null) return false;
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  const lane = async (k: number) => {
    for (const id of b.ids.filter((_, i) => i % lanes === k)) if (!(await runOne(id))) return false;
    return true;
  };
  const started = performance.now();
  const ok = (await Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)))).every(Boolean);
  const ms = Math.round(performance.now() - started);
  // Only a figure if the forker did run them by libcrun: no runtime process is an exec of crun.
  const viaLibcrun = running.every((x) => x.pid !== undefined && !readFileSafe(`/proc/${x.pid}/cmdline`).split('\0')[0]?.endsWith('/crun'));
  for (const task of running) task.kill('SIGKILL', true);
  await Promise.all(running.map(exited));
  forker.close();
  await cleanup(binary, b);
  return ok && viaLibcrun ? ms : null;
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
