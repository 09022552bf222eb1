import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RuntimeError, type MountSpec, type TaskRunSpec } from '../interface.js';
import { envList, envMap } from '../common/env.js';
import { resolveInRoot } from '../common/in-root.js';
import { resolveUser } from '../common/user.js';
import type { ResolvedImage } from '../images/types.js';
import { DEFAULT_PATH } from '../options.js';

/**
 * The OCI runtime spec (config.json) for a task, Docker's way of combining
 * image and task: Command replaces the image Entrypoint (and then its Cmd),
 * Args replace Cmd, task Env overrides image Env, Dir overrides WorkingDir,
 * User overrides the image User (names looked up in the image's /etc/passwd).
 * Namespaces: pid, mount, uts, ipc, and the task's own network namespace when
 * it joins overlay networks (made by the node's data plane); else the host's.
 */

// Docker's default capability set.
const CAPS = ['CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP', 'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE'].map((c) => `CAP_${c}`);

export interface BundleInput {
  spec: TaskRunSpec;
  image: ResolvedImage;
  /** The task's (mounted) root filesystem, to resolve users and create the working dir in. */
  rootfs: string;
  taskDir: string;
  cgroupsPath: string;
  volumesDir: string;
  /** A static init to run as the container's PID 1 (tini): mounted at INIT_PATH, it runs the task as its child. */
  init?: string;
}

/** Where the init is mounted inside the container (Docker mounts its own at /sbin/docker-init). */
export const INIT_PATH = '/sbin/shoal-init';

export function taskArgs(spec: TaskRunSpec, image: ResolvedImage): string[] {
  const entry = spec.command?.length ? spec.command : (image.config.Entrypoint ?? []);
  const cmd = spec.args?.length ? spec.args : spec.command?.length ? [] : (image.config.Cmd ?? []);
  const argv = [...entry, ...cmd];
  if (!argv.length) throw new RuntimeError('INVALID_SPEC', `task ${spec.taskId}: nothing to run: no Command/Args and image ${image.name} has no Entrypoint/Cmd`);
  return argv;
}

export function buildConfig(b: BundleInput): Record<string, unknown> {
  const { spec, image } = b;
  const taskArgv = taskArgs(spec, image);
  // -p SIGKILL: die with our parent (the runtime process); -- ends tini's options.
  const args = b.init ? [INIT_PATH, '-p', 'SIGKILL', '--', ...taskArgv] : taskArgv;
  const hostname = spec.hostname ?? spec.taskId.slice(0, 12);
  const userSpec = spec.user ?? image.config.User;
  const user = userSpec ? resolveUser(userSpec, b.rootfs) : { uid: 0, gid: 0, home: '/root' };
  const env = envMap(spec.env, envMap(image.config.Env ?? [], { PATH: DEFAULT_PATH }));
  env.HOSTNAME ??= hostname;
  env.HOME ??= user.home ?? '/';
  const cwd = spec.dir ?? (image.config.WorkingDir || '/');
  if (!path.posix.isAbsolute(cwd)) throw new RuntimeError('INVALID_SPEC', `task ${spec.taskId}: working directory ${JSON.stringify(cwd)} must be absolute`);
  // Docker creates a missing WorkingDir; so do we (in the task's writable layer), where the
  // container will see it: `..` stops at its root and its symlinks lead inside it, never to the host.
  const workdir = resolveInRoot(b.rootfs, cwd);
  if (workdir === null || (existsSync(workdir) && !statSync(workdir).isDirectory())) {
    throw new RuntimeError('INVALID_SPEC', `task ${spec.taskId}: working directory ${JSON.stringify(cwd)} is not a directory in image ${image.name}`);
  }
  mkdirSync(workdir, { recursive: true });

  const etc = path.join(b.taskDir, 'etc');
  mkdirSync(etc, { recursive: true });
  writeFileSync(path.join(etc, 'hostname'), `${hostname}\n`);
  if (spec.network) {
    writeFileSync(path.join(etc, 'resolv.conf'), spec.network.resolvConf);
    writeFileSync(path.join(etc, 'hosts'), spec.network.hosts);
  }

  const mounts: Record<string, unknown>[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/etc/hostname', type: 'bind', source: path.join(etc, 'hostname'), options: ['rbind', 'ro'] },
    // Its own network: the files the data plane wrote (the node's embedded DNS). Host network: the
    // host's name resolution, as Docker does for --network host.
    ...(spec.network
      ? ['resolv.conf', 'hosts'].map((f) => ({ destination: `/etc/${f}`, type: 'bind', source: path.join(etc, f), options: ['rbind', 'ro'] }))
      : ['/etc/resolv.conf', '/etc/hosts'].filter((f) => existsSync(f)).map((f) => ({ destination: f, type: 'bind', source: f, options: ['rbind', 'ro'] }))),
    ...spec.mounts.map((m) => taskMount(m, spec.taskId, b.volumesDir)),
    ...(b.init ? [{ destination: INIT_PATH, type: 'bind', source: b.init, options: ['rbind', 'ro'] }] : []),
  ];

  const resources: Record<string, unknown> = { devices: [{ allow: false, access: 'rwm' }] };
  if (spec.limits.memoryBytes) resources.memory = { limit: spec.limits.memoryBytes };
  if (spec.limits.nanoCpus) {
    const period = 100_000;
    resources.cpu = { period, quota: Math.max(1_000, Math.round((spec.limits.nanoCpus * period) / 1e9)) };
  }
  if (spec.limits.pids) resources.pids = { limit: spec.limits.pids };

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: user.uid, gid: user.gid },
      args,
      env: envList(env),
      cwd,
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      noNewPrivileges: false,
    },
    root: { path: 'rootfs', readonly: false },
    hostname,
    mounts,
    linux: {
      cgroupsPath: b.cgroupsPath,
      resources,
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, ...(spec.network ? [{ type: 'network', path: spec.network.netnsPath }] : [])],
      maskedPaths: ['/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
    annotations: { 'shoal.task.id': spec.taskId, ...spec.labels },
  };
}

function taskMount(m: MountSpec, taskId: string, volumesDir: string): Record<string, unknown> {
  if (!path.posix.isAbsolute(m.target)) throw new RuntimeError('INVALID_SPEC', `task ${taskId}: mount target ${JSON.stringify(m.target)} must be absolute`);
  const ro = m.readOnly ? ['ro'] : [];
  switch (m.type) {
    case 'bind':
      if (!m.source || !existsSync(m.source)) throw new RuntimeError('INVALID_SPEC', `task ${taskId}: bind mount source ${m.source ?? '(none)'} does not exist on this node`);
      return { destination: m.target, type: 'bind', source: m.source, options: ['rbind', ...(m.readOnly ? ['ro'] : ['rw'])] };
    case 'volume': {
      if (!m.source || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(m.source)) throw new RuntimeError('INVALID_SPEC', `task ${taskId}: volume name ${JSON.stringify(m.source ?? '')} is not valid`);
      const dir = path.join(volumesDir, m.source, '_data');
      // Labels are the creator's, as in dockerd: written once, when the volume is made.
      const made = !existsSync(dir);
      mkdirSync(dir, { recursive: true });
      if (made && m.volumeLabels) writeFileSync(path.join(volumesDir, m.source, 'labels.json'), JSON.stringify(m.volumeLabels) + '\n');
      return { destination: m.target, type: 'bind', source: dir, options: ['rbind', ...(m.readOnly ? ['ro'] : ['rw'])] };
    }
    case 'tmpfs':
      return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', ...(m.sizeBytes ? [`size=${m.sizeBytes}`] : []), ...ro] };
    default:
      throw new RuntimeError('INVALID_SPEC', `task ${taskId}: unknown mount type ${JSON.stringify((m as MountSpec).type)}`);
  }
}
