import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { RuntimeError, type TaskNetwork, type TaskRunSpec } from '../interface.js';
import { DockerClient, errorMessage } from './client.js';
import { nativePausePath } from './pause.js';
import { containerName } from './spec.js';

const run = promisify(execFile);

/** Marks a sandbox container and names its task; never TASK_LABEL, so list() does not take it for a task. */
export const SANDBOX_LABEL = 'shoal.sandbox.of';
/** Where the pause binary is mounted inside the sandbox. */
const PAUSE_TARGET = '/.shoal-pause';

export interface Sandbox {
  id: string;
  pid: number;
}

/**
 * A docker task that joins overlay networks runs in the network namespace of
 * a sandbox container, the pod-sandbox pattern (pause.c says why): the
 * sandbox is started with NetworkMode none, its namespace is bound at the
 * path the node's data plane programs (`ip netns attach`), and once the
 * task's interface is in it the task's container starts with NetworkMode
 * container:<sandbox>. So the task's own process never runs without the
 * network it asked for. The sandbox lives until the task is removed; the
 * binding goes when the data plane drops the task from its plan.
 */
export class Sandboxes {
  constructor(
    private readonly api: DockerClient,
    /** Per-task files (resolv.conf, hosts) the task's container mounts. */
    private readonly stateDir: string,
  ) {}

  /** The pause binary; refuses, with the reason, when this node has none. */
  static check(): string {
    const pause = nativePausePath();
    if (pause) return pause;
    throw new RuntimeError('INVALID_SPEC', 'docker tasks on overlay networks need the static sandbox binary (dist/native/shoal-pause), which the build makes only with a C compiler and a static libc: apt-get install gcc libc6-dev, then npm run build');
  }

  /**
   * The task's sandbox, running, with its namespace bound at the network's
   * path and programmed by the data plane. Idempotent: a restarted agent
   * finds the sandbox it made by label and binds it again if need be.
   */
  async ensure(spec: TaskRunSpec, net: TaskNetwork): Promise<Sandbox> {
    const pause = Sandboxes.check();
    let id = await this.find(spec.taskId);
    if (!id) {
      const body = {
        Image: spec.image,
        Entrypoint: [PAUSE_TARGET],
        Cmd: [],
        Labels: { [SANDBOX_LABEL]: spec.taskId },
        Healthcheck: { Test: ['NONE'] },
        ...(spec.hostname ? { Hostname: spec.hostname } : {}),
        HostConfig: {
          NetworkMode: 'none',
          LogConfig: { Type: 'none', Config: {} },
          Mounts: [{ Type: 'bind', Source: pause, Target: PAUSE_TARGET, ReadOnly: true }],
        },
      };
      const r = await this.api.json<{ Id: string }>('POST', `/containers/create?name=${encodeURIComponent(`${containerName(spec)}.sandbox`)}`, body);
      if (r.status === 409) id = await this.find(spec.taskId);
      else if (r.status !== 201) throw new RuntimeError(r.status === 404 ? 'IMAGE_NOT_FOUND' : 'FAILED', `Docker create of task ${spec.taskId}'s network sandbox: ${errorMessage(r.body)}`);
      else id = r.body.Id;
      if (!id) throw new RuntimeError('FAILED', `Docker create of task ${spec.taskId}'s network sandbox raced and lost it`);
    }
    const started = await this.api.json<unknown>('POST', `/containers/${id}/start`);
    if (started.status !== 204 && started.status !== 304) throw new RuntimeError('FAILED', `Docker start of task ${spec.taskId}'s network sandbox: ${errorMessage(started.body)}`);
    const pid = await this.pidOf(id, spec.taskId);
    await this.bind(net.netnsPath, pid);
    await net.bound?.();
    this.checkProgrammed(pid, spec.taskId);
    return { id, pid };
  }

  /** The task container's part: share the sandbox's network, see the node's DNS. */
  taskBody(spec: TaskRunSpec, net: TaskNetwork, sandbox: Sandbox, body: Record<string, unknown>): Record<string, unknown> {
    const dir = path.join(this.stateDir, spec.taskId);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(path.join(dir, 'resolv.conf'), net.resolvConf);
    writeFileSync(path.join(dir, 'hosts'), net.hosts);
    const host = body.HostConfig as Record<string, unknown>;
    const mounts = (host.Mounts as unknown[] | undefined) ?? [];
    // The engine refuses a hostname with another container's network (the sandbox has it).
    const { Hostname: _hostname, ...rest } = body;
    return {
      ...rest,
      HostConfig: {
        ...host,
        NetworkMode: `container:${sandbox.id}`,
        Mounts: [
          ...mounts,
          { Type: 'bind', Source: path.join(dir, 'resolv.conf'), Target: '/etc/resolv.conf', ReadOnly: true },
          { Type: 'bind', Source: path.join(dir, 'hosts'), Target: '/etc/hosts', ReadOnly: true },
        ],
      },
    };
  }

  /**
   * Removes the task's sandbox. Its namespace binding is the data plane's to
   * drop with the task, except after a failed create (`netnsPath` given):
   * then the binding goes here if it is still this sandbox's namespace.
   */
  async remove(taskId: string, netnsPath?: string): Promise<void> {
    const id = await this.find(taskId);
    if (!id) return;
    if (netnsPath) {
      const pid = await this.pidOf(id, taskId).catch(() => 0);
      if (pid && this.sameNamespace(netnsPath, pid)) await run('ip', ['netns', 'delete', path.basename(netnsPath)], { timeout: 10_000 }).catch(() => {});
    }
    const r = await this.api.json<unknown>('DELETE', `/containers/${id}?force=1`);
    if (r.status !== 204 && r.status !== 404) throw new RuntimeError('FAILED', `Docker remove of task ${taskId}'s network sandbox: ${errorMessage(r.body)}`);
    rmSync(path.join(this.stateDir, taskId), { recursive: true, force: true });
  }

  private find(taskId: string): Promise<string | null> {
    return this.api.containerByLabel(`${SANDBOX_LABEL}=${taskId}`);
  }

  private async pidOf(id: string, taskId: string): Promise<number> {
    const r = await this.api.json<{ State: { Running: boolean; Pid: number; Error?: string } }>('GET', `/containers/${id}/json`);
    if (r.status !== 200 || !r.body.State.Running || !r.body.State.Pid) {
      throw new RuntimeError('FAILED', `task ${taskId}'s network sandbox is not running${r.body?.State?.Error ? `: ${r.body.State.Error}` : ''}`);
    }
    return r.body.State.Pid;
  }

  /** `ip netns attach NAME PID`: the name the data plane programs now refers to the sandbox's namespace. */
  private async bind(netnsPath: string, pid: number): Promise<void> {
    const name = path.basename(netnsPath);
    if (this.sameNamespace(netnsPath, pid)) return;
    try {
      await run('ip', ['netns', 'attach', name, String(pid)], { timeout: 10_000 });
    } catch (err) {
      const msg = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
      throw new RuntimeError('FAILED', `binding the sandbox's network namespace as ${name}: ${msg}`);
    }
    if (!this.sameNamespace(netnsPath, pid)) throw new RuntimeError('FAILED', `${netnsPath} is not the sandbox's network namespace after ip netns attach (a namespace of that name already existed)`);
  }

  private sameNamespace(netnsPath: string, pid: number): boolean {
    try {
      return inode(netnsPath) === inode(`/proc/${pid}/ns/net`);
    } catch {
      return false;
    }
  }

  /**
   * The task's interface is in the namespace (read through the sandbox: /proc/PID/net/dev is its
   * namespace's). Checked once: bound() resolves only after an apply that found the namespace.
   */
  private checkProgrammed(pid: number, taskId: string): void {
    let dev = '';
    try {
      dev = readFileSync(`/proc/${pid}/net/dev`, 'utf8');
    } catch {
      throw new RuntimeError('FAILED', `task ${taskId}'s network sandbox exited before its network was ready`);
    }
    if (!/^\s*eth0:/m.test(dev)) throw new RuntimeError('FAILED', `the node's data plane applied its plan but put no interface into task ${taskId}'s namespace`);
  }
}

/** A namespace's identity: stat follows the bind mount and the /proc magic link to the nsfs inode (what `ip netns identify` compares). */
function inode(p: string): string {
  const st = statSync(p);
  return `${st.dev}:${st.ino}`;
}
