/**
 * Secret and config data on a worker: in memory (as the dispatcher sent it,
 * only for tasks assigned here) and, per task, in a private tmpfs — never on
 * disk. As root each task gets its own tmpfs mount (`size=…,mode=0700`,
 * nosuid,nodev,noexec) under /run/shoal/secrets/<node>/<task>; without root,
 * a mode-0700 directory under /dev/shm (itself a tmpfs, checked). The files
 * are named by each reference's File.Name, with its UID, GID and Mode:
 *   <dir>/secrets/<target>   (seen by oci/docker tasks at /run/secrets/<target>)
 *   <dir>/configs/<target>   (seen at /<target>, Docker's default for configs)
 * Removing the task unmounts and deletes it.
 *
 * A process task has no mount namespace: it reads the files through the
 * host path. When it runs as another user (a node running as root with the
 * task's User set), its tmpfs is that user's (mode 0700) and the directories
 * above it are made traversable (0711: no listing), so the user reaches its
 * own files — each still with the UID, GID and Mode asked for — and no other
 * task's.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Task } from '../../model/index.js';
import type { SecretItem } from '../../protocol/dispatcher.js';
import { RuntimeError } from '../runtime/interface.js';
import { resolveUser } from '../runtime/common/user.js';
import type { Logger } from '../../util/log/interface.js';

const run = promisify(execFile);
const TMPFS_MAGIC = 0x01021994;

export interface SecretFile {
  kind: 'secret' | 'config';
  /** Where the file is on this host (inside the task's tmpfs). */
  hostPath: string;
  /** Where a container sees it. */
  target: string;
}

export interface Materialized {
  dir: string;
  files: SecretFile[];
}

export function defaultSecretsRoot(nodeId: string): string {
  return process.getuid?.() === 0 ? path.join('/run/shoal/secrets', nodeId) : path.join('/dev/shm', `shoal-${process.getuid?.() ?? 'user'}`, 'secrets', nodeId);
}

export class SecretFiles {
  /** `kind/id` → data, only for tasks this node was assigned. */
  private readonly data = new Map<string, Buffer>();
  private readonly asRoot = process.getuid?.() === 0;

  constructor(
    private readonly root: string,
    private readonly log: Logger,
  ) {}

  put(items: SecretItem[]): void {
    for (const it of items) this.data.set(`${it.kind}/${it.id}`, Buffer.from(it.data));
  }

  /** Forgets data no tracked task uses (the dispatcher mirrors this rule). */
  prune(tasks: Task[]): void {
    const used = new Set(tasks.flatMap(refKeys));
    for (const k of this.data.keys()) if (!used.has(k)) this.data.delete(k);
  }

  /**
   * Writes the task's secret and config files into its private tmpfs; null
   * when it uses none. `runtime`: the runtime the task runs on (a process
   * task with a User gets its tmpfs owned by that host user).
   */
  async materialize(task: Task, runtime?: string): Promise<Materialized | null> {
    const c = task.Spec.ContainerSpec;
    const refs = [
      ...(c?.Secrets ?? []).map((r) => ({ kind: 'secret' as const, id: r.SecretID, name: r.SecretName, file: r.File })),
      ...(c?.Configs ?? []).map((r) => ({ kind: 'config' as const, id: r.ConfigID, name: r.ConfigName, file: r.File })),
    ];
    if (refs.length === 0) return null;
    const blobs = refs.map((r) => {
      const b = this.data.get(`${r.kind}/${r.id}`);
      if (!b) throw new RuntimeError('FAILED', `${r.kind} ${r.name || r.id} was not delivered to this node`);
      return b;
    });
    const dir = this.dirOf(task.ID);
    const size = blobs.reduce((n, b) => n + b.length + 4096, 0) + 64 * 1024;
    // Resolved against the host's /etc/passwd, as the process runtime does (an unknown user rejects the task).
    const owner = this.asRoot && runtime === 'process' && c?.User ? resolveUser(c.User, '/') : undefined;
    await this.mountPrivate(dir, size, owner);
    const files: SecretFile[] = [];
    for (const [i, r] of refs.entries()) {
      const name = r.file?.Name || r.name;
      const rel = name.replace(/^\/+/, '');
      const hostPath = path.join(dir, `${r.kind}s`, rel);
      if (!hostPath.startsWith(path.join(dir, `${r.kind}s`) + path.sep)) throw new RuntimeError('INVALID_SPEC', `${r.kind} target ${JSON.stringify(name)} leaves the task's directory`);
      await mkdir(path.dirname(hostPath), { recursive: true, mode: 0o755 });
      const mode = r.file?.Mode ?? 0o444;
      await writeFile(hostPath, blobs[i]!, { mode });
      await chmod(hostPath, mode);
      const uid = Number(r.file?.UID || 0);
      const gid = Number(r.file?.GID || 0);
      if (this.asRoot) await chown(hostPath, uid, gid);
      const target = name.startsWith('/') ? name : r.kind === 'secret' ? `/run/secrets/${rel}` : `/${rel}`;
      files.push({ kind: r.kind, hostPath, target });
    }
    return { dir, files };
  }

  /** Unmounts and deletes the task's tmpfs (nothing when it had none). */
  async release(taskId: string): Promise<void> {
    const dir = this.dirOf(taskId);
    if (this.asRoot) await run('umount', [dir]).catch(() => run('umount', ['-l', dir]).catch(() => {}));
    await rm(dir, { recursive: true, force: true }).catch((err: Error) => this.log.warn(`removing ${dir}: ${err.message}`));
  }

  /** Every task's tmpfs (the node stops with its tasks). */
  async releaseAll(): Promise<void> {
    const ids = await readdir(this.root).catch(() => [] as string[]);
    for (const id of ids) await this.release(id);
    await rm(this.root, { recursive: true, force: true }).catch(() => {});
  }

  private dirOf(taskId: string): string {
    return path.join(this.root, taskId);
  }

  private async mountPrivate(dir: string, sizeBytes: number, owner?: { uid: number; gid: number }): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (owner && owner.uid !== 0) await this.traversable();
    if (this.asRoot) {
      // Already ours (a retried prepare): unmount first so the contents are exactly this task's.
      const st = await statfs(dir);
      if (Number(st.type) === TMPFS_MAGIC) await run('umount', [dir]).catch(() => {});
      await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700,nosuid,nodev,noexec`, 'tmpfs', dir]).catch((err: Error) => {
        throw new RuntimeError('FAILED', `cannot mount a tmpfs for secrets at ${dir}: ${err.message.split('\n')[0]}`);
      });
    } else {
      await chmod(dir, 0o700);
    }
    const st = await statfs(dir);
    if (Number(st.type) !== TMPFS_MAGIC) throw new RuntimeError('FAILED', `${dir} is not on a tmpfs: secret data is never written to disk`);
    if (owner && this.asRoot) await chown(dir, owner.uid, owner.gid);
  }

  /**
   * The secrets root and the directories of ours above it (/run/shoal/secrets/<node>,
   * /run/shoal/secrets, /run/shoal, made 0700) get search permission for all
   * (0711: entering, not listing), stopping at the first that has it already.
   */
  private async traversable(): Promise<void> {
    let p = this.root;
    for (let i = 0; i < 3 && p !== path.dirname(p); i++, p = path.dirname(p)) {
      const st = await stat(p);
      if ((st.mode & 0o001) !== 0) return;
      if (st.uid !== 0) return; // not a directory this root node made
      await chmod(p, (st.mode & 0o777) | 0o011);
    }
  }
}

function refKeys(t: Task): string[] {
  const c = t.Spec.ContainerSpec;
  return [...(c?.Secrets ?? []).map((r) => `secret/${r.SecretID}`), ...(c?.Configs ?? []).map((r) => `config/${r.ConfigID}`)];
}
