import { existsSync, mkdirSync } from 'node:fs';
import type { HealthConfig } from '../../../model/index.js';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ContainerInfo, Runtime, TaskRunSpec, TaskStats } from '../interface.js';
import { RuntimeError } from '../interface.js';
import { writeJsonAtomic } from '../common/atomic.js';
import { capture } from '../common/capture.js';
import { cgroupDir, readCgroupStats, taskCgroupPath } from '../common/cgroup.js';
import { SupervisedTasks, checkTaskId, type BaseInfo } from '../common/supervised.js';
import { SupervisedRuntime } from '../common/supervised-runtime.js';
import { taskFile, type LaunchSpec } from '../common/task-dir.js';
import { ImageStore } from '../images/store.js';
import { DEFAULT_PATH, resolveCommon, type ResolvedCommon, type RuntimeOptions } from '../options.js';
import { ensureCrunCgroups, probe, which, type OciBinary } from './binaries.js';
import { buildConfig } from './bundle.js';
import { setupRootfs, teardownRootfs, type RootfsMode } from './rootfs.js';
import { nodeCredentials, registryRef } from '../images/registry.js';

interface OciInfo extends BaseInfo {
  binary: OciBinary;
  binaryPath: string;
  /** The binary's --root (container state). */
  root: string;
  bundle: string;
  rootfsMode: RootfsMode;
  image: { name: string; id: string };
}

/**
 * OCI bundles run by runc (default) or crun from the node-local image store.
 * Each task: an overlay rootfs over the image, a config.json, and
 * `<runtime> run` in the foreground as a child of the node's task supervisor
 * (supervisor/), so the true exit status and logs are ours. Container ID = task ID, under a private
 * --root per binary (<stateDir>/runc, <stateDir>/crun): no clash with Docker's
 * or the host's own containers.
 */
export class OciRuntime extends SupervisedRuntime<OciInfo> implements Runtime {
  readonly name = 'oci' as const;
  private readonly c: ResolvedCommon;
  protected readonly tasks: SupervisedTasks<OciInfo>;
  private readonly images: ImageStore;

  constructor(private readonly opts: RuntimeOptions) {
    super();
    this.c = resolveCommon('oci', opts);
    this.images = ImageStore.at(this.c.imageDir);
    this.tasks = new SupervisedTasks<OciInfo>(
      { stateDir: this.c.stateDir, rotation: this.c.rotation, log: this.c.log, ...(this.c.supervisor ? { supervisor: this.c.supervisor } : {}) },
      {
        // The container's init (tini) dies with its runtime process, which dies with the supervisor; delete what is left.
        sweep: async (_dir, info) => void (await this.deleteContainer(info)),
        cleanup: async (dir, info) => {
          await this.deleteContainer(info);
          await teardownRootfs(dir);
        },
      },
    );
  }

  private binaryFor(spec?: TaskRunSpec): OciBinary {
    const b = spec?.options?.ociRuntime ?? this.opts.oci?.runtime ?? 'runc';
    if (b !== 'runc' && b !== 'crun') throw new RuntimeError('INVALID_SPEC', `options.ociRuntime must be runc or crun, got ${JSON.stringify(b)}`);
    return b;
  }

  private binaryPath(b: OciBinary): string | null {
    return which((b === 'runc' ? this.opts.oci?.runcPath : this.opts.oci?.crunPath) ?? b);
  }

  /**
   * Whether `binary` can run tasks here. Answered once per binary (it runs
   * the binary, which costs ~10 ms of a blocked event loop per call: not
   * something to do per task); a failure is asked again on the next call.
   */
  availableFor(b: OciBinary): Promise<{ ok: boolean; reason?: string }> {
    let p = this.availability.get(b);
    if (!p) {
      p = this.checkAvailable(b);
      this.availability.set(b, p);
      void p.then((r) => {
        if (!r.ok) this.availability.delete(b);
      });
    }
    return p;
  }

  private readonly availability = new Map<OciBinary, Promise<{ ok: boolean; reason?: string }>>();

  /** Root, the binary present and working; crun also needs its cgroup setup. */
  private async checkAvailable(b: OciBinary): Promise<{ ok: boolean; reason?: string }> {
    if (process.getuid?.() !== 0) return { ok: false, reason: `the oci runtime needs root (${b} with namespaces, cgroups and overlay mounts)` };
    const p = this.binaryPath(b);
    if (!p) return { ok: false, reason: `${b} is not installed (not on PATH)` };
    const pr = probe(p);
    if (!pr.ok) return pr;
    if (b === 'crun') return ensureCrunCgroups();
    return { ok: true };
  }

  available(): Promise<{ ok: boolean; reason?: string }> {
    return this.availableFor(this.binaryFor());
  }

  /**
   * The image is in the store, or is pulled now from the registry its name
   * gives (with this node's `docker login` for it); a name without a
   * registry must have been imported.
   */
  async prepare(spec: TaskRunSpec, progress?: (message: string) => void): Promise<void> {
    checkTaskId(spec.taskId);
    const a = await this.availableFor(this.binaryFor(spec));
    if (!a.ok) throw new RuntimeError('UNAVAILABLE', a.reason ?? 'oci runtime unavailable');
    if (!this.images.resolve(spec.image) && !registryRef(spec.image) && this.opts.oci?.peerImages) {
      // Imported on another node: build it here from that node's layers.
      progress?.(`fetching image ${spec.image} from the node that has it`);
      await this.opts.oci.peerImages(spec.image);
    } else if (!this.images.resolve(spec.image) && registryRef(spec.image)) {
      const ref = registryRef(spec.image)!;
      const credentials = nodeCredentials(ref.registry);
      const t0 = performance.now();
      progress?.(`pulling image ${spec.image}`);
      const source = this.opts.oci?.blobSource;
      const r = await this.images.pull(spec.image, { ...(credentials ? { credentials } : {}), ...(source ? { source } : {}) });
      this.c.log.info({ task: spec.taskId, image: spec.image, bytesRead: r.bytesRead, blobsFetched: r.blobsFetched }, `pulled ${spec.image} (${r.image.id.slice(0, 19)}): ${r.blobsFetched} blob(s) fetched, ${r.bytesRead} bytes of them from ${ref.registry} itself, in ${Math.round(performance.now() - t0)} ms`);
    }
    this.image(spec);
  }

  async imageHealthCheck(spec: TaskRunSpec): Promise<HealthConfig | undefined> {
    return this.images.resolve(spec.image)?.config.Healthcheck;
  }

  private image(spec: TaskRunSpec) {
    const img = this.images.resolve(spec.image);
    if (!img) {
      throw new RuntimeError('IMAGE_NOT_FOUND', `image ${spec.image} is not in this node's image store (${this.c.imageDir})${this.opts.oci?.peerImages ? ' nor on any other live node of the cluster' : ''}; import it with \`shoal image import ${spec.image} FILE\` (a rootfs tarball or an OCI layout), or name the registry to pull it from (HOST[:PORT]/NAME:TAG)`);
    }
    return img;
  }

  async create(spec: TaskRunSpec): Promise<ContainerInfo> {
    checkTaskId(spec.taskId);
    const existing = await this.inspect(spec.taskId);
    if (existing) return existing;
    await this.prepare(spec);
    const binary = this.binaryFor(spec);
    const binaryPath = this.binaryPath(binary)!;
    const image = this.image(spec);
    // A create() that died half-way left a directory without info.json, maybe with its overlay mounted.
    if (existsSync(this.tasks.dir(spec.taskId))) {
      await teardownRootfs(this.tasks.dir(spec.taskId));
      await rm(this.tasks.dir(spec.taskId), { recursive: true, force: true });
    }
    const dir = this.tasks.prepareDir(spec.taskId);
    const root = path.join(this.c.stateDir, binary);
    mkdirSync(root, { recursive: true, mode: 0o700 });
    const bundle = path.join(dir, 'bundle');
    const rootfs = await setupRootfs(image.rootfs, dir, this.opts.oci?.overlay !== false);
    const warnings = rootfs.note ? [rootfs.note] : [];
    try {
      const cgroupsPath = `${this.c.cgroupParent}/${spec.taskId}`;
      const init = findInit();
      if (!init) warnings.push(`the container is not tied to the node's task supervisor: install tini (${INIT_CANDIDATES.join(' or ')}), or a dead supervisor leaves it running`);
      const config = buildConfig({ spec, image, rootfs: rootfs.path, taskDir: dir, cgroupsPath, volumesDir: path.join(this.opts.dataDir, 'volumes'), ...(init ? { init } : {}) });
      writeJsonAtomic(path.join(bundle, 'config.json'), config, false);
      const launch: LaunchSpec = {
        kind: 'oci',
        argv: [binaryPath, '--root', root, 'run', '--bundle', bundle, '--pid-file', path.join(dir, 'container.pid'), ...(binary === 'runc' ? ['--keep'] : []), spec.taskId],
        env: { PATH: DEFAULT_PATH },
        cwd: bundle,
        rotation: this.c.rotation,
        oci: {
          binary: binaryPath,
          root,
          containerId: spec.taskId,
          pidFile: path.join(dir, 'container.pid'),
          keep: binary === 'runc',
          memcgSuffix: `/${this.c.cgroupParent.replace(/^\/+/, '')}/${spec.taskId}`,
          ...expectedMemcg(binary, cgroupsPath),
        },
          };
      this.tasks.commit(dir, spec, launch, {
        taskId: spec.taskId,
        runtimeId: spec.taskId,
        createdAt: new Date().toISOString(),
        warnings,
        binary,
        binaryPath,
        root,
        bundle,
        rootfsMode: rootfs.mode,
        image: { name: image.name, id: image.id },
      });
    } catch (err) {
      await teardownRootfs(dir);
      await this.tasks.remove(spec.taskId);
      throw err;
    }
    return (await this.inspect(spec.taskId))!;
  }

  /**
   * The roots of tasks that cannot be running, all at once (the unmounts
   * take turns in the helper lane): one after another, a node stopping with
   * 300 tasks spent 3 s here. Decided from the files and /proc, never by
   * asking the supervisor, which has shut down by now (asking it failed the
   * whole release, UNAVAILABLE, and 300 overlay mounts stayed behind): with
   * no supervisor process every task is gone with it; while one still lives
   * (its shutdown failed), only tasks that ended or never started, so no
   * running container loses its root.
   */
  async release(): Promise<void> {
    const sup = this.tasks.supervisor;
    const gone = !sup.alive();
    const done = this.tasks.ids().filter((id) => {
      if (sup.holds(id)) return false;
      const dir = this.tasks.dir(id);
      return gone || existsSync(taskFile(dir, 'exit')) || !existsSync(taskFile(dir, 'started'));
    });
    await Promise.all(done.map((id) => teardownRootfs(this.tasks.dir(id)).catch((err: Error) => this.c.log.warn({ task: id }, err.message))));
  }

  async stats(taskId: string): Promise<TaskStats> {
    const t = this.tasks.mustRead(taskId);
    if (!t.started?.cgroupDirs || t.exit) return {};
    return readCgroupStats(t.started.cgroupDirs);
  }

  /** `<runtime> exec` in the running container (its env, cwd and user), output captured. */
  async exec(taskId: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const t = await this.runningTask(taskId);
    const r = await capture([t.info.binaryPath, '--root', t.info.root, 'exec', taskId, ...cmd], { timeoutMs, env: { PATH: DEFAULT_PATH } });
    return { exitCode: r.exitCode, output: r.error ? `${r.output}${r.error}` : r.output };
  }

  /**
   * `delete --force` the container, if the binary still has its state: crun's
   * foreground `run` deletes its own on exit, and the supervisor deletes
   * runc's kept one, so usually there is nothing to do, and nothing is run
   * (300 needless runs cost a node removing 300 tasks seconds).
   */
  private async deleteContainer(info: OciInfo): Promise<void> {
    if (!existsSync(path.join(info.root, info.taskId))) return;
    await this.ociCall(info, ['delete', '--force', info.taskId]);
  }

  private async ociCall(info: OciInfo, args: string[]): Promise<{ ok: boolean; out: string }> {
    const r = await capture([info.binaryPath, '--root', info.root, ...args], { timeoutMs: 10_000, env: { PATH: DEFAULT_PATH }, lane: 'mounts' });
    return { ok: r.exitCode === 0, out: r.output };
  }
}

/**
 * tini, statically linked (Debian's tini package; Docker's `--init` binary),
 * bind-mounted into the container as its PID 1 with `-p SIGKILL`: the kernel
 * kills it, and with it the whole container (its PID namespace), when its
 * parent — the runtime process the supervisor started — dies. That is what
 * ties a container to the supervisor, as PR_SET_PDEATHSIG ties a process
 * task. It also reaps zombies and forwards signals, as under `docker run --init`.
 */
export const INIT_CANDIDATES = ['/usr/bin/tini-static', '/usr/bin/docker-init'];

/** The first of INIT_CANDIDATES installed here, or null. */
export function findInit(): string | null {
  return INIT_CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/**
 * Where the container's memory cgroup will be, for when the supervisor cannot read
 * /proc/<pid>/cgroup in time (a container OOM-killed at once): runc resolves a
 * relative cgroupsPath under its own cgroup (the supervisor's, hence ours), crun
 * under the hierarchy root.
 */
function expectedMemcg(binary: OciBinary, cgroupsPath: string): { expectedMemcgDir?: string } {
  const p = cgroupsPath.startsWith('/') || binary === 'crun' ? path.posix.join('/', cgroupsPath) : taskCgroupPath('memory', path.posix.dirname(cgroupsPath), path.posix.basename(cgroupsPath));
  const dir = p === null ? null : cgroupDir('memory', p);
  return dir ? { expectedMemcgDir: dir } : {};
}

