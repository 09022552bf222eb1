import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { resetCgroupCache, v1Hierarchies } from '../common/cgroup.js';
import { DEFAULT_PATH } from '../options.js';

/** The two OCI runtimes a task may pick with options.ociRuntime. */
export type OciBinary = 'runc' | 'crun';

/** Absolute path of a binary on PATH (plus the sbin dirs, where Debian puts runc), or null. */
export function which(bin: string): string | null {
  if (bin.includes('/')) return existsSync(bin) ? bin : null;
  const dirs = new Set([...(process.env.PATH ?? '').split(':'), ...DEFAULT_PATH.split(':')]);
  for (const d of dirs) {
    if (!d) continue;
    const p = path.join(d, bin);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Whether the binary runs at all ("--version" exits 0); the reason when not. */
export function probe(binPath: string): { ok: boolean; reason?: string } {
  const r = spawnSync(binPath, ['--version'], { encoding: 'utf8', timeout: 5_000 });
  if (r.error) return { ok: false, reason: `${binPath}: ${r.error.message}` };
  if (r.status !== 0) return { ok: false, reason: `${binPath} --version exited ${r.status}: ${r.stderr.trim()}` };
  return { ok: true };
}

function unifiedControllers(): { mount: string; controllers: string[] } | null {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post || !post.startsWith('cgroup2 ')) continue;
    const mount = pre.split(' ')[4]!;
    try {
      return { mount, controllers: readFileSync(path.join(mount, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean) };
    } catch {
      return { mount, controllers: [] };
    }
  }
  return null;
}

/**
 * crun refuses a hybrid cgroup setup whose v2 mount still owns controllers
 * ("cgroups in hybrid mode not supported, drop all controllers from
 * cgroupv2"). On this kind of host only hugetlb sits on v2; mounting it as a
 * v1 hierarchy moves it there. Done once, as root; otherwise the reason.
 */
export function ensureCrunCgroups(): { ok: boolean; reason?: string } {
  const v2 = unifiedControllers();
  if (!v2 || v2.controllers.length === 0) return { ok: true };
  if (v1Hierarchies().length === 0) return { ok: true }; // pure v2 host: crun is at home there
  const others = v2.controllers.filter((c) => c !== 'hugetlb');
  if (others.length) return { ok: false, reason: `crun cannot run on this hybrid cgroup host: controllers ${v2.controllers.join(', ')} are on cgroup v2 (${v2.mount})` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'crun needs the hugetlb cgroup mounted as v1 (mount -t cgroup -o hugetlb cgroup /sys/fs/cgroup/hugetlb), and this node is not root' };
  const target = '/sys/fs/cgroup/hugetlb';
  try {
    mkdirSync(target, { recursive: true });
  } catch (err) {
    return { ok: false, reason: `cannot create ${target} for the hugetlb cgroup: ${(err as Error).message}` };
  }
  const r = spawnSync('mount', ['-t', 'cgroup', '-o', 'hugetlb', 'cgroup', target], { encoding: 'utf8' });
  resetCgroupCache();
  if (r.status !== 0) return { ok: false, reason: `mounting the hugetlb cgroup for crun failed: ${r.stderr?.trim() || r.error?.message}` };
  return { ok: true };
}
