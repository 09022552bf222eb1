/**
 * The floor under bench:density's oci figure: what this machine needs to
 * start N containers with no orchestrator at all — per container an overlay
 * mount of the same image and `<crun|runc> run --detach` of a minimal bundle
 * (pid, ipc, uts and mount namespaces; /proc, /dev, /sys; its own cgroup),
 * in two lanes (one per core of the 2-core reference machine). Printed
 * beside Shoal's figure as `oci_floor_ms`, so "how far from the runtime's
 * own cost" is read off one run.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { capture } from '../src/worker/runtime/common/capture.js';


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

/** Starts n containers in `lanes` parallel lanes; ms until the last `run -d` returned, or null if any failed. Cleans up after. */
export async function ociFloorMs(binary: string, lowerdir: string, n: number, lanes = 2): Promise<number | null> {
  const base = mkdtempSync(path.join(tmpdir(), 'shoal-oci-floor-'));
  const state = path.join(base, 'state');
  const ids = Array.from({ length: n }, (_, i) => `floor${i}`);
  for (const id of ids) {
    const d = path.join(base, id);
    for (const sub of ['rootfs', 'upper', 'work']) mkdirSync(path.join(d, sub), { recursive: true });
    writeFileSync(path.join(d, 'config.json'), JSON.stringify(config(id)));
  }
  // Each lane is one shell running its containers one after another (a shell's fork is cheaper than ours).
  const lane = (k: number) => {
    const mine = ids.filter((_, i) => i % lanes === k);
    const script = 'for id in "$@"; do d="$B/$id"; mount -t overlay overlay -o "lowerdir=$L,upperdir=$d/upper,workdir=$d/work" "$d/rootfs" && "$R" --root "$S" run --detach --bundle "$d" "$id" >/dev/null 2>&1 || exit 1; done';
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', B: base, L: lowerdir, R: binary, S: state };
    return capture(['sh', '-c', script, 'lane', ...mine], { env, timeoutMs: 600_000 }).then((r) => r.exitCode);
  };
  const started = performance.now();
  const codes = await Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)));
  const failed = codes.some((c) => c !== 0);
  const ms = Math.round(performance.now() - started);
  for (const id of ids) {
    await capture([binary, '--root', state, 'delete', '--force', id], { timeoutMs: 30_000 });
    await capture(['umount', path.join(base, id, 'rootfs')], { timeoutMs: 30_000 });
  }
  rmSync(base, { recursive: true, force: true });
  return failed ? null : ms;
}
