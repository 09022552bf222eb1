import type { HealthConfig } from '../../../model/index.js';
import type { IncomingMessage } from 'node:http';
import type { ContainerInfo, ContainerState, ExitStatus, LogLine, LogOptions, Runtime, TaskRunSpec, TaskStats } from '../interface.js';
import { RuntimeError } from '../interface.js';
import { signalName } from '../common/signals.js';
import { checkTaskId } from '../common/supervised.js';
import type { RuntimeOptions } from '../options.js';
import { DockerClient, errorMessage, readAll } from './client.js';
import { Demuxer, parseRfc3339Ms, parseTimestamped } from './demux.js';
import { containerName, createBody, TASK_LABEL } from './spec.js';
import { nodeCredentials, registryRef, type RegistryRef } from '../images/registry.js';
import path from 'node:path';
import { Sandboxes } from './sandbox.js';

interface DockerState {
  Status: string;
  Running: boolean;
  Pid: number;
  ExitCode: number;
  OOMKilled: boolean;
  Error?: string;
  StartedAt: string;
  FinishedAt: string;
}

interface DockerInspect {
  Id: string;
  State: DockerState;
  Config: { Labels?: Record<string, string>; StopSignal?: string };
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** DOCKER_HOST=unix:///path, else the engine's default socket. */
function defaultSocket(): string {
  const h = process.env.DOCKER_HOST;
  if (h?.startsWith('unix://')) return h.slice('unix://'.length);
  return '/var/run/docker.sock';
}

/**
 * Tasks as Docker containers, through the Engine API on its unix socket.
 * The engine is the state store: containers carry the label shoal.task.id,
 * so a restarted agent finds its tasks with a label filter, and the engine
 * keeps exit codes and logs. An image whose name gives a registry is pulled
 * by the engine; any other missing image fails prepare() with IMAGE_NOT_FOUND.
 */
export class DockerRuntime implements Runtime {
  readonly name = 'docker' as const;
  private readonly api: DockerClient;
  private readonly network: string;
  /** taskId → container ID; only a cache, the label is the truth. */
  private readonly ids = new Map<string, string>();

  /** Network sandboxes of the tasks that join overlay networks (sandbox.ts). */
  private readonly sandboxes: Sandboxes;

  constructor(opts: RuntimeOptions) {
    this.api = new DockerClient(opts.docker?.socketPath ?? defaultSocket());
    this.network = opts.docker?.network ?? 'host';
    this.sandboxes = new Sandboxes(this.api, opts.stateDir ?? path.join(opts.dataDir, 'runtime', 'docker'));
  }

  async available(): Promise<{ ok: boolean; reason?: string }> {
    try {
      const r = await this.api.json<unknown>('GET', '/_ping', undefined, { timeoutMs: 5_000 });
      return r.status === 200 ? { ok: true } : { ok: false, reason: `Docker /_ping answered ${r.status}` };
    } catch (err) {
      return { ok: false, reason: (err as Error).message };
    }
  }

  /**
   * The image is in the engine, or, when its name gives a registry, the
   * engine pulls it now (with this node's `docker login` for that registry,
   * sent as X-Registry-Auth). A name without a registry must be loaded.
   */
  async prepare(spec: TaskRunSpec, progress?: (message: string) => void): Promise<void> {
    checkTaskId(spec.taskId);
    if (spec.network) Sandboxes.check();
    let r = await this.api.json<unknown>('GET', `/images/${imagePath(spec.image)}/json`);
    const ref = r.status === 404 ? registryRef(spec.image) : null;
    if (ref) {
      progress?.(`pulling image ${spec.image}`);
      await this.pull(spec.image, ref);
      r = await this.api.json<unknown>('GET', `/images/${imagePath(spec.image)}/json`);
    }
    if (r.status === 404) {
      throw new RuntimeError('IMAGE_NOT_FOUND', `image ${spec.image} is not on this node's Docker engine; load it first (\`docker import ROOTFS.tar ${spec.image}\` or \`docker load -i IMAGE.tar\`), or name the registry to pull it from (HOST[:PORT]/NAME:TAG)`);
    }
    if (r.status !== 200) throw new RuntimeError('FAILED', `Docker image inspect ${spec.image}: ${errorMessage(r.body)}`);
  }

  /** POST /images/create: the engine pulls; its answer is a stream of JSON progress objects, an error among them when it failed. */
  private async pull(image: string, ref: RegistryRef): Promise<void> {
    const login = nodeCredentials(ref.registry);
    const colon = login?.indexOf(':') ?? -1;
    // base64url with its padding: the engine decodes with Go's base64.URLEncoding, which wants it.
    const auth = login ? Buffer.from(JSON.stringify({ username: login.slice(0, colon), password: login.slice(colon + 1), serveraddress: ref.registry })).toString('base64').replace(/\+/g, '-').replace(/\//g, '_') : undefined;
    const from = ref.reference.startsWith('sha256:') ? `${ref.registry}/${ref.repository}@${ref.reference}` : `${ref.registry}/${ref.repository}`;
    const tag = ref.reference.startsWith('sha256:') ? '' : `&tag=${encodeURIComponent(ref.reference)}`;
    const res = await this.api.raw('POST', `/images/create?fromImage=${encodeURIComponent(from)}${tag}`, undefined, { timeoutMs: 600_000, ...(auth ? { headers: { 'x-registry-auth': auth } } : {}) });
    const text = await readAll(res);
    if ((res.statusCode ?? 0) >= 400) {
      let msg = text.trim();
      try {
        msg = errorMessage(JSON.parse(text));
      } catch {
        // not JSON: the text is the message
      }
      throw new RuntimeError(res.statusCode === 404 ? 'IMAGE_NOT_FOUND' : 'FAILED', `Docker could not pull ${image}: ${msg}${login ? '' : ` (if ${ref.registry} needs a login: \`docker login ${ref.registry}\` on this node)`}`);
    }
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      let o: { error?: string; errorDetail?: { message?: string } };
      try {
        o = JSON.parse(line) as typeof o;
      } catch {
        continue;
      }
      if (o.error || o.errorDetail) throw new RuntimeError('FAILED', `Docker could not pull ${image}: ${o.errorDetail?.message ?? o.error}`);
    }
  }

  /** The image's HEALTHCHECK, as the engine holds it (Config.Healthcheck). */
  async imageHealthCheck(spec: TaskRunSpec): Promise<HealthConfig | undefined> {
    const r = await this.api.json<{ Config?: { Healthcheck?: HealthConfig } }>('GET', `/images/${imagePath(spec.image)}/json`);
    const hc = r.status === 200 ? r.body.Config?.Healthcheck : undefined;
    return hc?.Test?.length ? hc : undefined;
  }

  /** The task's container ID, found by label (cached). */
  private async containerId(taskId: string): Promise<string | null> {
    const cached = this.ids.get(taskId);
    if (cached) return cached;
    const id = await this.api.containerByLabel(`${TASK_LABEL}=${taskId}`);
    if (id) this.ids.set(taskId, id);
    return id;
  }

  private async mustId(taskId: string): Promise<string> {
    checkTaskId(taskId);
    const id = await this.containerId(taskId);
    if (!id) throw new RuntimeError('NOT_FOUND', `no container for task ${taskId} on this node's Docker engine`);
    return id;
  }

  private async inspectRaw(taskId: string): Promise<DockerInspect | null> {
    const id = await this.containerId(taskId);
    if (!id) return null;
    const r = await this.api.json<DockerInspect>('GET', `/containers/${id}/json`);
    if (r.status === 404) {
      this.ids.delete(taskId);
      return null;
    }
    if (r.status !== 200) throw new RuntimeError('FAILED', `Docker inspect ${id}: ${errorMessage(r.body)}`);
    return r.body;
  }

  async create(spec: TaskRunSpec): Promise<ContainerInfo> {
    checkTaskId(spec.taskId);
    const existing = await this.inspect(spec.taskId);
    if (existing) return existing;
    const name = containerName(spec);
    if (!spec.network) return this.createContainer(spec, name, createBody(spec, this.network));
    // Its own network: a sandbox holds the namespace, programmed before this container exists.
    // A create that fails on the way leaves no sandbox: the agent removes only what was created.
    try {
      const sandbox = await this.sandboxes.ensure(spec, spec.network);
      return await this.createContainer(spec, name, this.sandboxes.taskBody(spec, spec.network, sandbox, createBody(spec, this.network)));
    } catch (err) {
      await this.sandboxes.remove(spec.taskId, spec.network.netnsPath).catch(() => {});
      throw err;
    }
  }

  private async createContainer(spec: TaskRunSpec, name: string, body: Record<string, unknown>): Promise<ContainerInfo> {
    const r = await this.api.json<{ Id: string }>('POST', `/containers/create?name=${encodeURIComponent(name)}`, body);
    if (r.status === 404) await this.prepare(spec); // turns "no such image" into IMAGE_NOT_FOUND with the hint
    if (r.status === 409) {
      // A create that raced ours, or a stale container holding the name.
      const again = await this.inspect(spec.taskId);
      if (again) return again;
    }
    if (r.status !== 201) throw new RuntimeError(r.status === 400 ? 'INVALID_SPEC' : 'FAILED', `Docker create for task ${spec.taskId}: ${errorMessage(r.body)}`);
    this.ids.set(spec.taskId, r.body.Id);
    return (await this.inspect(spec.taskId))!;
  }

  async start(taskId: string): Promise<void> {
    const id = await this.mustId(taskId);
    const r = await this.api.json<unknown>('POST', `/containers/${id}/start`);
    // 304: already started.
    if (r.status !== 204 && r.status !== 304) throw new RuntimeError('FAILED', `Docker start for task ${taskId}: ${errorMessage(r.body)}`);
  }

  async wait(taskId: string): Promise<ExitStatus> {
    const id = await this.mustId(taskId);
    for (;;) {
      const c = await this.inspectRaw(taskId);
      if (!c) throw new RuntimeError('NOT_FOUND', `container for task ${taskId} is gone`);
      const state = mapState(c.State);
      if (state === 'exited') return exitOf(c.State);
      if (state === 'created') {
        // "not-running" would answer at once for a container not yet started.
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      const w = await this.api.json<{ StatusCode: number }>('POST', `/containers/${id}/wait?condition=not-running`);
      if (w.status === 404) throw new RuntimeError('NOT_FOUND', `container for task ${taskId} is gone`);
    }
  }

  /** Resolves true once the container is not running, false after ms. */
  private async waitFor(taskId: string, id: string, ms: number): Promise<boolean> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), ms);
    try {
      await this.api.json('POST', `/containers/${id}/wait?condition=not-running`, undefined, { signal: ac.signal });
      return true;
    } catch (err) {
      // Aborted at the deadline (as an AbortError, or as "aborted" if the response had begun).
      if (ac.signal.aborted) return mapState((await this.inspectRaw(taskId))?.State) !== 'running';
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async kill(id: string, sig: string): Promise<void> {
    const r = await this.api.json<unknown>('POST', `/containers/${id}/kill?signal=${encodeURIComponent(sig)}`);
    // 409: not running (any more).
    if (r.status !== 204 && r.status !== 409 && r.status !== 404) throw new RuntimeError('FAILED', `Docker kill ${sig}: ${errorMessage(r.body)}`);
  }

  /** Signals ourselves rather than POST /stop, whose grace period is whole seconds. */
  async stop(taskId: string, graceMs: number): Promise<void> {
    const c = await this.inspectRaw(taskId);
    if (!c) throw new RuntimeError('NOT_FOUND', `no container for task ${taskId} on this node's Docker engine`);
    if (mapState(c.State) !== 'running') return;
    const first = signalName(c.Config.StopSignal || 'SIGTERM') ?? 'SIGTERM';
    await this.kill(c.Id, first);
    if (first !== 'SIGKILL' && (await this.waitFor(taskId, c.Id, Math.max(0, graceMs)))) return;
    await this.kill(c.Id, 'SIGKILL');
    if (!(await this.waitFor(taskId, c.Id, 30_000))) throw new RuntimeError('FAILED', `task ${taskId} did not exit 30 s after SIGKILL`);
  }

  async remove(taskId: string): Promise<void> {
    checkTaskId(taskId);
    const id = await this.containerId(taskId);
    if (id) {
      const r = await this.api.json<unknown>('DELETE', `/containers/${id}?force=1&v=1`);
      if (r.status !== 204 && r.status !== 404) throw new RuntimeError('FAILED', `Docker remove for task ${taskId}: ${errorMessage(r.body)}`);
      this.ids.delete(taskId);
    }
    // After the task's container: it shares the sandbox's namespace until it is gone.
    await this.sandboxes.remove(taskId);
  }

  logs(taskId: string, opts: LogOptions): AsyncIterable<LogLine> {
    const self = this;
    return (async function* () {
      const id = await self.mustId(taskId);
      const q = new URLSearchParams({ stdout: '1', stderr: '1', timestamps: '1', follow: opts.follow ? '1' : '0', tail: opts.tail === undefined ? 'all' : String(Math.max(0, opts.tail)) });
      if (opts.sinceMs !== undefined) q.set('since', `${Math.floor(opts.sinceMs / 1000)}.${String((opts.sinceMs % 1000) * 1_000_000).padStart(9, '0')}`);
      const res: IncomingMessage = await self.api.raw('GET', `/containers/${id}/logs?${q}`);
      if (res.statusCode !== 200) throw new RuntimeError(res.statusCode === 404 ? 'NOT_FOUND' : 'FAILED', `Docker logs for task ${taskId}: ${errorMessage(safeJson(await readAll(res)))}`);
      const d = new Demuxer();
      try {
        for await (const chunk of res) for (const l of d.push(chunk as Buffer)) yield parseTimestamped(l.stream, l.text);
        for (const l of d.end()) yield parseTimestamped(l.stream, l.text);
      } finally {
        res.destroy();
      }
    })();
  }

  async stats(taskId: string): Promise<TaskStats> {
    const id = await this.mustId(taskId);
    const r = await this.api.json<{ cpu_stats?: { cpu_usage?: { total_usage?: number } }; memory_stats?: { usage?: number }; pids_stats?: { current?: number } }>(
      'GET',
      `/containers/${id}/stats?stream=false&one-shot=true`,
    );
    if (r.status !== 200) throw new RuntimeError('FAILED', `Docker stats for task ${taskId}: ${errorMessage(r.body)}`);
    const s: TaskStats = {};
    if (r.body.cpu_stats?.cpu_usage?.total_usage !== undefined) s.cpuNanos = r.body.cpu_stats.cpu_usage.total_usage;
    if (r.body.memory_stats?.usage !== undefined) s.memoryBytes = r.body.memory_stats.usage;
    if (r.body.pids_stats?.current !== undefined) s.pids = r.body.pids_stats.current;
    return s;
  }

  async inspect(taskId: string): Promise<ContainerInfo | null> {
    checkTaskId(taskId);
    const c = await this.inspectRaw(taskId);
    return c ? info(taskId, c) : null;
  }

  async list(): Promise<ContainerInfo[]> {
    const filters = encodeURIComponent(JSON.stringify({ label: [TASK_LABEL] }));
    const r = await this.api.json<{ Id: string; Labels: Record<string, string> }[]>('GET', `/containers/json?all=1&filters=${filters}`);
    if (r.status !== 200) throw new RuntimeError('FAILED', `Docker container list: ${errorMessage(r.body)}`);
    const out: ContainerInfo[] = [];
    for (const c of r.body) {
      const taskId = c.Labels[TASK_LABEL];
      if (!taskId) continue;
      this.ids.set(taskId, c.Id);
      const i = await this.inspect(taskId);
      if (i) out.push(i);
    }
    return out.sort((a, b) => a.taskId.localeCompare(b.taskId));
  }

  /** An exec instance: create, start attached (multiplexed output), then its exit code. */
  async exec(taskId: string, cmd: string[], timeoutMs: number): Promise<{ exitCode: number; output: string }> {
    const id = await this.mustId(taskId);
    const c = await this.api.json<{ Id: string }>('POST', `/containers/${id}/exec`, { Cmd: cmd, AttachStdout: true, AttachStderr: true, Tty: false });
    if (c.status !== 201) throw new RuntimeError(c.status === 409 ? 'FAILED' : 'FAILED', `Docker exec in task ${taskId}: ${errorMessage(c.body)}`);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    let output = '';
    let timedOut = false;
    try {
      const res = await this.api.raw('POST', `/exec/${c.body.Id}/start`, { Detach: false, Tty: false }, { signal: ac.signal });
      const d = new Demuxer();
      for await (const chunk of res) for (const l of d.push(chunk as Buffer)) output += `${l.text}\n`;
      for (const l of d.end()) output += l.text;
    } catch (err) {
      if (!ac.signal.aborted) throw err;
      timedOut = true;
    } finally {
      clearTimeout(timer);
    }
    if (timedOut) return { exitCode: 137, output: `${output}(timed out after ${timeoutMs} ms)` };
    const i = await this.api.json<{ ExitCode: number | null }>('GET', `/exec/${c.body.Id}/json`);
    return { exitCode: i.body.ExitCode ?? -1, output };
  }
}

function imagePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

function mapState(s: DockerState | undefined): ContainerState {
  if (!s) return 'exited';
  if (s.Status === 'created') return 'created';
  if (s.Running || s.Status === 'running' || s.Status === 'paused' || s.Status === 'restarting') return 'running';
  return 'exited';
}

function exitOf(s: DockerState): ExitStatus {
  const sig = s.ExitCode > 128 && s.ExitCode < 128 + 65 ? signalName(s.ExitCode - 128) : null;
  return {
    exitCode: s.ExitCode,
    ...(sig ? { signal: sig } : {}),
    oomKilled: s.OOMKilled,
    finishedAt: s.FinishedAt && s.FinishedAt !== ZERO_TIME ? s.FinishedAt : new Date().toISOString(),
    ...(s.Error ? { message: s.Error } : {}),
  };
}

function info(taskId: string, c: DockerInspect): ContainerInfo {
  const state = mapState(c.State);
  const out: ContainerInfo = { taskId, runtimeId: c.Id, state };
  if (state === 'running' && c.State.Pid) out.pid = c.State.Pid;
  if (c.State.StartedAt && c.State.StartedAt !== ZERO_TIME && parseRfc3339Ms(c.State.StartedAt) !== null) out.startedAt = c.State.StartedAt;
  if (state === 'exited') out.exit = exitOf(c.State);
  return out;
}
