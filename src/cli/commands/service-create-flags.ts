/**
 * The flags of `shoal service create` and `shoal service update`, named and
 * parsed as docker's are, and the ServiceSpec they produce. Value parsers
 * are exported for the unit tests; every bad value is a CliError naming the
 * flag.
 */
import { parseConstraint as parseModelConstraint } from '../../model/constraints.js';
import { parseConfigRef, parseSecretRef } from './secret-ref-flags.js';
import { Option, type Command } from 'commander';
import type { EndpointPortConfig, HealthConfig, Mount, NetworkAttachmentConfig, ServiceMode, ServiceSpec, TaskSpec, UpdateConfig } from '../../model/index.js';
import { CliError } from '../errors.js';
import { parseBytes, parseCount, parseCpus, parseDuration, parseRatio, parseReplicas, UnitError } from '../units.js';

/** Runs a unit parser, turning its error into one that names the flag. */
export function flagValue<T>(flag: string, raw: string, parse: (s: string) => T): T {
  try {
    return parse(raw);
  } catch (err) {
    if (err instanceof UnitError || err instanceof CliError) throw new CliError(`invalid value for ${flag}: ${err.message}`);
    throw err;
  }
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Comma-separated key=value fields, as docker's --mount and long --publish syntax. A bare key is "true". */
function csvFields(s: string): [string, string][] {
  return s
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => {
      const i = f.indexOf('=');
      return i < 0 ? [f.toLowerCase(), 'true'] : [f.slice(0, i).trim().toLowerCase(), f.slice(i + 1).trim()];
    });
}

function bool(v: string, what: string): boolean {
  if (['true', '1', 'yes'].includes(v.toLowerCase())) return true;
  if (['false', '0', 'no'].includes(v.toLowerCase())) return false;
  throw new CliError(`${what} must be true or false, not ${JSON.stringify(v)}`);
}

/** `type=bind,source=/a,target=/b,readonly` (docker's --mount). Type defaults to volume, as docker's. */
export function parseMount(s: string): Mount {
  const m: Partial<Mount> = {};
  for (const [k, v] of csvFields(s)) {
    switch (k) {
      case 'type':
        if (!['bind', 'volume', 'tmpfs'].includes(v)) throw new CliError(`mount type ${JSON.stringify(v)} is not supported (bind, volume or tmpfs)`);
        m.Type = v as Mount['Type'];
        break;
      case 'source':
      case 'src':
        m.Source = v;
        break;
      case 'target':
      case 'destination':
      case 'dst':
        m.Target = v;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = bool(v, k);
        break;
      case 'bind-propagation':
        m.BindOptions = { Propagation: v };
        break;
      case 'tmpfs-size':
        m.TmpfsOptions = { ...m.TmpfsOptions, SizeBytes: parseBytes(v) };
        break;
      case 'tmpfs-mode':
        m.TmpfsOptions = { ...m.TmpfsOptions, Mode: parseInt(v, 8) };
        break;
      case 'volume-nocopy':
        m.VolumeOptions = { ...m.VolumeOptions, NoCopy: bool(v, k) };
        break;
      default:
        throw new CliError(`unknown mount option ${JSON.stringify(k)} in ${JSON.stringify(s)} (type, source, target, readonly, …)`);
    }
  }
  m.Type ??= 'volume';
  if (!m.Target) throw new CliError(`${JSON.stringify(s)} has no target: add target=/path`);
  if (m.Type === 'bind' && !m.Source) throw new CliError(`bind mount ${JSON.stringify(s)} has no source: add source=/host/path`);
  return m as Mount;
}

function port(v: string, what: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 65535) throw new CliError(`${what} must be a port number 1-65535, not ${JSON.stringify(v)}`);
  return n;
}

function protocol(v: string): 'tcp' | 'udp' | 'sctp' {
  if (v !== 'tcp' && v !== 'udp' && v !== 'sctp') throw new CliError(`protocol must be tcp, udp or sctp, not ${JSON.stringify(v)}`);
  return v;
}

/** `8080:80`, `8080:80/udp`, `80` (target only), or `published=8080,target=80,protocol=udp,mode=host`. */
export function parsePublish(s: string): EndpointPortConfig {
  if (s.includes('=')) {
    const p: Partial<EndpointPortConfig> = {};
    for (const [k, v] of csvFields(s)) {
      if (k === 'published') p.PublishedPort = port(v, 'published');
      else if (k === 'target') p.TargetPort = port(v, 'target');
      else if (k === 'protocol') p.Protocol = protocol(v);
      else if (k === 'mode') {
        if (v !== 'ingress' && v !== 'host') throw new CliError(`publish mode must be ingress or host, not ${JSON.stringify(v)}`);
        p.PublishMode = v;
      } else throw new CliError(`unknown publish option ${JSON.stringify(k)} (published, target, protocol, mode)`);
    }
    if (!p.TargetPort) throw new CliError(`${JSON.stringify(s)} has no target port: add target=PORT`);
    return { Protocol: 'tcp', PublishMode: 'ingress', ...p } as EndpointPortConfig;
  }
  const m = /^(?:(\d+):)?(\d+)(?:\/(\w+))?$/.exec(s.trim());
  if (!m) throw new CliError(`${JSON.stringify(s)} is not PUBLISHED:TARGET[/PROTOCOL], e.g. 8080:80 or 53:53/udp`);
  return {
    Protocol: m[3] ? protocol(m[3]) : 'tcp',
    TargetPort: port(m[2]!, 'target port'),
    ...(m[1] ? { PublishedPort: port(m[1], 'published port') } : {}),
    PublishMode: 'ingress',
  };
}

/** `node.role==manager`: checked for shape here; the API checks keys and values. */
export function parseConstraint(s: string): string {
  // The model's grammar, the one the API and the placers use: a bad constraint fails here, before any request.
  try {
    parseModelConstraint(s);
    return s.trim();
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** `spread=node.labels.zone` (docker's only strategy). */
export function parsePlacementPref(s: string): { Spread: { SpreadDescriptor: string } } {
  const m = /^spread=(\S+)$/.exec(s.trim());
  if (!m) throw new CliError(`placement preference ${JSON.stringify(s)} must be spread=DESCRIPTOR, e.g. spread=node.labels.zone`);
  return { Spread: { SpreadDescriptor: m[1]! } };
}

/** `k=v` or `k` (empty value), as docker's --label. */
export function parseLabel(s: string): [string, string] {
  const i = s.indexOf('=');
  const k = (i < 0 ? s : s.slice(0, i)).trim();
  if (k === '') throw new CliError(`label ${JSON.stringify(s)} has no name: use KEY=VALUE`);
  return [k, i < 0 ? '' : s.slice(i + 1)];
}

/** `A=1` as is; a bare `A` takes the value from this shell's environment, as docker's --env does. */
export function parseEnv(s: string, env: NodeJS.ProcessEnv = process.env): string {
  if (s === '' || s.startsWith('=')) throw new CliError(`environment variable ${JSON.stringify(s)} must be NAME=value`);
  if (s.includes('=')) return s;
  return env[s] !== undefined ? `${s}=${env[s]}` : s;
}

/** Splits `--args "sh -c 'echo hi'"` as a shell would (quotes and backslashes; no expansion). */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let any = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (ch === '\\' && i + 1 < s.length) {
      cur += s[++i];
      any = true;
    } else if (/\s/.test(ch)) {
      if (cur !== '' || any) out.push(cur);
      cur = '';
      any = false;
    } else cur += ch;
  }
  if (quote) throw new CliError(`unterminated ${quote} quote in ${JSON.stringify(s)}`);
  if (cur !== '' || any) out.push(cur);
  return out;
}

export const RUNTIME_CHOICES = ['process', 'oci', 'docker'] as const;

/** The flags create and update share: scalar settings, applied the same way to a new or an existing spec. */
export interface ScalarFlags {
  replicas?: string;
  maxConcurrent?: string;
  workdir?: string;
  user?: string;
  hostname?: string;
  entrypoint?: string;
  reserveCpu?: string;
  reserveMemory?: string;
  limitCpu?: string;
  limitMemory?: string;
  replicasMaxPerNode?: string;
  restartCondition?: string;
  restartDelay?: string;
  restartMaxAttempts?: string;
  restartWindow?: string;
  updateParallelism?: string;
  updateDelay?: string;
  updateOrder?: string;
  updateFailureAction?: string;
  updateMonitor?: string;
  updateMaxFailureRatio?: string;
  rollbackParallelism?: string;
  rollbackDelay?: string;
  rollbackOrder?: string;
  rollbackFailureAction?: string;
  rollbackMonitor?: string;
  rollbackMaxFailureRatio?: string;
  stopGracePeriod?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthRetries?: string;
  healthTimeout?: string;
  healthStartPeriod?: string;
  healthStartInterval?: string;
  healthcheck?: boolean;
  runtime?: string;
  detach?: boolean;
  quiet?: boolean;
  timeout?: string;
}

export interface CreateFlags extends ScalarFlags {
  name?: string;
  mode?: string;
  env?: string[];
  label?: string[];
  containerLabel?: string[];
  constraint?: string[];
  placementPref?: string[];
  publish?: string[];
  mount?: string[];
  secret?: string[];
  config?: string[];
  network?: string[];
}

export interface UpdateFlags extends ScalarFlags {
  image?: string;
  args?: string;
  force?: boolean;
  rollback?: boolean;
  envAdd?: string[];
  envRm?: string[];
  labelAdd?: string[];
  labelRm?: string[];
  constraintAdd?: string[];
  constraintRm?: string[];
  placementPrefAdd?: string[];
  placementPrefRm?: string[];
  publishAdd?: string[];
  publishRm?: string[];
  mountAdd?: string[];
  mountRm?: string[];
  networkAdd?: string[];
  networkRm?: string[];
}

function scalarOptions(cmd: Command): Command {
  return cmd
    .option('--replicas <n>', 'number of tasks (replicated-job: completions needed)')
    .option('--max-concurrent <n>', 'replicated-job: tasks run at once (default: --replicas)')
    .option('--replicas-max-per-node <n>', 'maximum number of tasks per node (0 = unlimited)')
    .option('-w, --workdir <dir>', 'working directory of the command')
    .option('-u, --user <user>', 'username or UID')
    .option('--hostname <name>', 'hostname inside the task')
    .option('--entrypoint <command>', 'overwrite the default entrypoint of the image')
    .option('--reserve-cpu <cpus>', 'reserve CPUs, e.g. 0.25')
    .option('--reserve-memory <bytes>', 'reserve memory, e.g. 64M')
    .option('--limit-cpu <cpus>', 'limit CPUs')
    .option('--limit-memory <bytes>', 'limit memory, e.g. 1G')
    .option('--restart-condition <condition>', 'restart when the task exits: none, on-failure or any')
    .option('--restart-delay <duration>', 'delay between restart attempts, e.g. 5s')
    .option('--restart-max-attempts <n>', 'maximum number of restarts before giving up')
    .option('--restart-window <duration>', 'window used to evaluate the restart policy')
    .option('--update-parallelism <n>', 'maximum number of tasks updated at once (0 = all)')
    .option('--update-delay <duration>', 'delay between updates')
    .option('--update-order <order>', 'update order: start-first or stop-first')
    .option('--update-failure-action <action>', 'action on update failure: pause, continue or rollback')
    .option('--update-monitor <duration>', 'how long to watch each updated task for failure')
    .option('--update-max-failure-ratio <ratio>', 'failure rate to tolerate during an update (0 to 1)')
    .option('--rollback-parallelism <n>', 'maximum number of tasks rolled back at once (0 = all)')
    .option('--rollback-delay <duration>', 'delay between task rollbacks')
    .option('--rollback-order <order>', 'rollback order: start-first or stop-first')
    .option('--rollback-failure-action <action>', 'action on rollback failure: pause or continue')
    .option('--rollback-monitor <duration>', 'how long to watch each rolled-back task for failure')
    .option('--rollback-max-failure-ratio <ratio>', 'failure rate to tolerate during a rollback (0 to 1)')
    .option('--stop-grace-period <duration>', 'time to wait before force killing a task')
    .option('--health-cmd <command>', 'command to run to check health (run by a shell)')
    .option('--health-interval <duration>', 'time between health checks')
    .option('--health-retries <n>', 'consecutive failures needed to report unhealthy')
    .option('--health-timeout <duration>', 'maximum time a health check may take')
    .option('--health-start-period <duration>', 'start period before failed checks count')
    .option('--health-start-interval <duration>', 'time between health checks during the start period')
    .option('--no-healthcheck', "disable the image's health check")
    .addOption(new Option('--runtime <runtime>', 'runtime that runs the tasks (TaskTemplate.Runtime)').choices(RUNTIME_CHOICES))
    .option('-d, --detach', 'exit immediately instead of waiting for the service to converge')
    .option('-q, --quiet', 'suppress progress output')
    .option('--timeout <duration>', 'how long to wait for convergence without -d', '60s');
}

export function addCreateOptions(cmd: Command): Command {
  return scalarOptions(
    cmd
      .option('--name <name>', 'service name')
      .addOption(new Option('--mode <mode>', 'service mode').choices(['replicated', 'global', 'replicated-job', 'global-job']).default('replicated'))
      .option('-e, --env <NAME=value>', 'set an environment variable (repeatable)', collect)
      .option('-l, --label <key=value>', 'service label (repeatable)', collect)
      .option('--container-label <key=value>', 'task label (repeatable)', collect)
      .option('--constraint <expr>', 'placement constraint, e.g. node.role==worker (repeatable)', collect)
      .option('--placement-pref <pref>', 'placement preference, e.g. spread=node.labels.zone (repeatable)', collect)
      .option('-p, --publish <published:target>', 'publish a port, e.g. 8080:80 (repeatable)', collect)
      .option('--mount <spec>', 'attach a mount, e.g. type=bind,source=/srv,target=/data (repeatable)', collect)
      .option('--secret <spec>', 'give the tasks a secret, e.g. source=db_pass,target=db,uid=0,gid=0,mode=0400 (repeatable)', collect)
      .option('--config <spec>', 'give the tasks a config, e.g. source=app.yml,target=/etc/app.yml (repeatable)', collect)
      .option('--network <network>', 'attach to a network: NAME or name=NAME,alias=ALIAS (repeatable)', collect),
  );
}

export function addUpdateOptions(cmd: Command): Command {
  return scalarOptions(
    cmd
      .option('--image <image>', 'service image')
      .option('--args <command>', 'service command args, as one shell-quoted string')
      .option('--force', 'replace every task even if nothing changed')
      .option('--rollback', "roll back to the service's previous spec")
      .option('--env-add <NAME=value>', 'add or update an environment variable (repeatable)', collect)
      .option('--env-rm <NAME>', 'remove an environment variable (repeatable)', collect)
      .option('--label-add <key=value>', 'add or update a service label (repeatable)', collect)
      .option('--label-rm <key>', 'remove a service label (repeatable)', collect)
      .option('--constraint-add <expr>', 'add a placement constraint (repeatable)', collect)
      .option('--constraint-rm <expr>', 'remove a placement constraint (repeatable)', collect)
      .option('--placement-pref-add <pref>', 'add a placement preference (repeatable)', collect)
      .option('--placement-pref-rm <pref>', 'remove a placement preference (repeatable)', collect)
      .option('--publish-add <published:target>', 'add or update a published port (repeatable)', collect)
      .option('--publish-rm <target>', 'remove a published port by its target port (repeatable)', collect)
      .option('--mount-add <spec>', 'add or update a mount (repeatable)', collect)
      .option('--mount-rm <target>', 'remove a mount by its target path (repeatable)', collect)
      .option('--network-add <network>', 'attach to a network: NAME or name=NAME,alias=ALIAS (repeatable)', collect)
      .option('--network-rm <network>', 'detach from a network, by name or ID (repeatable)', collect),
  );
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new CliError(`invalid value for ${flag}: ${JSON.stringify(v)} (one of ${allowed.join(', ')})`);
  return v as T;
}

/**
 * `--replicas N` and `scale SERVICE=N`, as docker reads them: a replicated
 * service's replica count, a replicated job's number of completions.
 */
export function setReplicas(mode: ServiceMode, n: number, what: string): void {
  if (mode.Replicated) mode.Replicated.Replicas = n;
  else if (mode.ReplicatedJob) mode.ReplicatedJob = { ...mode.ReplicatedJob, TotalCompletions: n };
  else throw new CliError(`${what} can only be used with replicated or replicated-job mode`);
}

/** Applies the scalar flags to `spec` in place (a fresh spec for create, the current one for update). */
export function applyScalars(spec: ServiceSpec, f: ScalarFlags): void {
  const t: TaskSpec = (spec.TaskTemplate ??= {});
  const c = (t.ContainerSpec ??= { Image: '' });
  if (f.replicas !== undefined) setReplicas(spec.Mode, flagValue('--replicas', f.replicas, parseReplicas), '--replicas');
  if (f.maxConcurrent !== undefined) {
    const n = flagValue('--max-concurrent', f.maxConcurrent, parseReplicas);
    if (!spec.Mode.ReplicatedJob) throw new CliError('--max-concurrent can only be used with replicated-job mode');
    spec.Mode.ReplicatedJob = { ...spec.Mode.ReplicatedJob, MaxConcurrent: n };
  }
  if (f.replicasMaxPerNode !== undefined) t.Placement = { ...t.Placement, MaxReplicas: flagValue('--replicas-max-per-node', f.replicasMaxPerNode, parseCount) };
  if (f.workdir !== undefined) c.Dir = f.workdir;
  if (f.user !== undefined) c.User = f.user;
  if (f.hostname !== undefined) c.Hostname = f.hostname;
  if (f.entrypoint !== undefined) c.Command = splitWords(f.entrypoint);
  if (f.stopGracePeriod !== undefined) c.StopGracePeriod = flagValue('--stop-grace-period', f.stopGracePeriod, parseDuration);
  const rsv = { ...t.Resources?.Reservations };
  const lim = { ...t.Resources?.Limits };
  if (f.reserveCpu !== undefined) rsv.NanoCPUs = flagValue('--reserve-cpu', f.reserveCpu, parseCpus);
  if (f.reserveMemory !== undefined) rsv.MemoryBytes = flagValue('--reserve-memory', f.reserveMemory, parseBytes);
  if (f.limitCpu !== undefined) lim.NanoCPUs = flagValue('--limit-cpu', f.limitCpu, parseCpus);
  if (f.limitMemory !== undefined) lim.MemoryBytes = flagValue('--limit-memory', f.limitMemory, parseBytes);
  if (Object.keys(rsv).length > 0 || Object.keys(lim).length > 0) {
    t.Resources = { ...(Object.keys(lim).length > 0 ? { Limits: lim } : {}), ...(Object.keys(rsv).length > 0 ? { Reservations: rsv } : {}) };
  }
  const rp = { ...t.RestartPolicy };
  if (f.restartCondition !== undefined) rp.Condition = oneOf('--restart-condition', f.restartCondition, ['none', 'on-failure', 'any'] as const);
  if (f.restartDelay !== undefined) rp.Delay = flagValue('--restart-delay', f.restartDelay, parseDuration);
  if (f.restartMaxAttempts !== undefined) rp.MaxAttempts = flagValue('--restart-max-attempts', f.restartMaxAttempts, parseCount);
  if (f.restartWindow !== undefined) rp.Window = flagValue('--restart-window', f.restartWindow, parseDuration);
  if (Object.keys(rp).length > 0) t.RestartPolicy = rp;
  const u: UpdateConfig = { ...spec.UpdateConfig };
  if (f.updateParallelism !== undefined) u.Parallelism = flagValue('--update-parallelism', f.updateParallelism, parseCount);
  if (f.updateDelay !== undefined) u.Delay = flagValue('--update-delay', f.updateDelay, parseDuration);
  if (f.updateOrder !== undefined) u.Order = oneOf('--update-order', f.updateOrder, ['start-first', 'stop-first'] as const);
  if (f.updateFailureAction !== undefined) u.FailureAction = oneOf('--update-failure-action', f.updateFailureAction, ['pause', 'continue', 'rollback'] as const);
  if (f.updateMonitor !== undefined) u.Monitor = flagValue('--update-monitor', f.updateMonitor, parseDuration);
  if (f.updateMaxFailureRatio !== undefined) u.MaxFailureRatio = flagValue('--update-max-failure-ratio', f.updateMaxFailureRatio, parseRatio);
  if (Object.keys(u).length > 0) spec.UpdateConfig = u;
  const rb: UpdateConfig = { ...spec.RollbackConfig };
  if (f.rollbackParallelism !== undefined) rb.Parallelism = flagValue('--rollback-parallelism', f.rollbackParallelism, parseCount);
  if (f.rollbackDelay !== undefined) rb.Delay = flagValue('--rollback-delay', f.rollbackDelay, parseDuration);
  if (f.rollbackOrder !== undefined) rb.Order = oneOf('--rollback-order', f.rollbackOrder, ['start-first', 'stop-first'] as const);
  // A rollback is never rolled back (SwarmKit): its failure action is pause or continue.
  if (f.rollbackFailureAction !== undefined) rb.FailureAction = oneOf('--rollback-failure-action', f.rollbackFailureAction, ['pause', 'continue'] as const);
  if (f.rollbackMonitor !== undefined) rb.Monitor = flagValue('--rollback-monitor', f.rollbackMonitor, parseDuration);
  if (f.rollbackMaxFailureRatio !== undefined) rb.MaxFailureRatio = flagValue('--rollback-max-failure-ratio', f.rollbackMaxFailureRatio, parseRatio);
  if (Object.keys(rb).length > 0) spec.RollbackConfig = rb;
  applyHealth(c as { HealthCheck?: HealthConfig }, f);
  if (f.runtime !== undefined) t.Runtime = f.runtime;
  flagValue('--timeout', f.timeout ?? '60s', parseDuration);
}

function applyHealth(c: { HealthCheck?: HealthConfig }, f: ScalarFlags): void {
  const touched = [f.healthCmd, f.healthInterval, f.healthRetries, f.healthTimeout, f.healthStartPeriod, f.healthStartInterval].some((v) => v !== undefined);
  if (f.healthcheck === false) {
    if (touched) throw new CliError('--no-healthcheck conflicts with the --health-* flags');
    c.HealthCheck = { Test: ['NONE'] };
    return;
  }
  if (!touched) return;
  const h: HealthConfig = { ...c.HealthCheck };
  if (h.Test?.[0] === 'NONE') delete h.Test;
  if (f.healthCmd !== undefined) h.Test = ['CMD-SHELL', f.healthCmd];
  if (f.healthInterval !== undefined) h.Interval = flagValue('--health-interval', f.healthInterval, parseDuration);
  if (f.healthTimeout !== undefined) h.Timeout = flagValue('--health-timeout', f.healthTimeout, parseDuration);
  if (f.healthStartPeriod !== undefined) h.StartPeriod = flagValue('--health-start-period', f.healthStartPeriod, parseDuration);
  if (f.healthStartInterval !== undefined) h.StartInterval = flagValue('--health-start-interval', f.healthStartInterval, parseDuration);
  if (f.healthRetries !== undefined) h.Retries = flagValue('--health-retries', f.healthRetries, parseCount);
  c.HealthCheck = h;
}

function modeFor(mode: string | undefined): ServiceMode {
  switch (mode ?? 'replicated') {
    case 'global':
      return { Global: {} };
    case 'replicated-job':
      return { ReplicatedJob: { MaxConcurrent: 1, TotalCompletions: 1 } };
    case 'global-job':
      return { GlobalJob: {} };
    default:
      return { Replicated: { Replicas: 1 } };
  }
}

function labelMap(flag: string, values: string[] | undefined): Record<string, string> | undefined {
  if (!values) return undefined;
  return Object.fromEntries(values.map((v) => flagValue(flag, v, parseLabel)));
}

/**
 * The spec `shoal service create` sends. Positionals are docker's IMAGE
 * [COMMAND] [ARG...], for every runtime: the first is the Image, everything
 * after it the Args (docker sends no Command unless --entrypoint is given).
 * A `--` only ends shoal's own options, as in docker, so `-- sleep 300` and
 * `sleep 300` are the same service; `busybox -- sleep 1` keeps the `--` as
 * an Arg, again as docker does. The process runtime runs the image as the
 * program (Image "sleep", Args ["300"] → `sleep 300`); oci and docker run
 * the image's entrypoint with those Args.
 */
export function createSpec(f: CreateFlags, positionals: string[]): ServiceSpec {
  if (positionals.length === 0) {
    throw new CliError('service create needs an IMAGE: the image to run, or for the process runtime the program (e.g. `shoal service create --runtime process sleep 300`)');
  }
  const [first, ...rest] = positionals as [string, ...string[]];
  if (first.trim() === '') throw new CliError('service create: IMAGE is empty');
  const container = { Image: first, ...(rest.length > 0 ? { Args: rest } : {}) };
  const spec: ServiceSpec = {
    Name: f.name ?? '',
    Labels: labelMap('--label', f.label) ?? {},
    TaskTemplate: { ContainerSpec: container },
    Mode: modeFor(f.mode),
  };
  const c = spec.TaskTemplate.ContainerSpec!;
  if (f.env) c.Env = f.env.map((e) => flagValue('--env', e, (s) => parseEnv(s)));
  if (f.containerLabel) c.Labels = labelMap('--container-label', f.containerLabel);
  if (f.mount) c.Mounts = f.mount.map((m) => flagValue('--mount', m, parseMount));
  if (f.secret) c.Secrets = f.secret.map(parseSecretRef);
  if (f.config) c.Configs = f.config.map(parseConfigRef);
  const constraints = f.constraint?.map((x) => flagValue('--constraint', x, parseConstraint));
  const prefs = f.placementPref?.map((x) => flagValue('--placement-pref', x, parsePlacementPref));
  if (constraints || prefs) spec.TaskTemplate.Placement = { ...(constraints ? { Constraints: constraints } : {}), ...(prefs ? { Preferences: prefs } : {}) };
  if (f.publish) spec.EndpointSpec = { Mode: 'vip', Ports: f.publish.map((p) => flagValue('--publish', p, parsePublish)) };
  // Docker puts --network in the task template; the API resolves names to IDs.
  if (f.network) spec.TaskTemplate.Networks = f.network.map((n) => flagValue('--network', n, parseNetwork));
  applyScalars(spec, f);
  // docker: a new job runs all its completions at once unless --max-concurrent says fewer.
  const job = spec.Mode.ReplicatedJob;
  if (job && f.maxConcurrent === undefined) job.MaxConcurrent = job.TotalCompletions;
  return spec;
}

/** `--network`: `NAME`, or docker's long form `name=NAME,alias=A[,alias=B]`. */
export function parseNetwork(s: string): NetworkAttachmentConfig {
  if (!s.includes('=')) {
    if (s.trim() === '') throw new CliError('names no network');
    return { Target: s.trim() };
  }
  let target = '';
  const aliases: string[] = [];
  for (const [k, v] of csvFields(s)) {
    if (k === 'name') target = v;
    else if (k === 'alias') aliases.push(v);
    else throw new CliError(`unknown option ${JSON.stringify(k)} (name, alias)`);
  }
  if (target === '') throw new CliError('names no network: use name=NAME');
  return { Target: target, ...(aliases.length > 0 ? { Aliases: aliases } : {}) };
}

/** Removes entries whose key is in `rm`, then adds or replaces `add` by key. */
function edit<T>(list: T[] | undefined, key: (x: T) => string, add: T[], rm: string[]): T[] | undefined {
  if (add.length === 0 && rm.length === 0) return list;
  const addKeys = new Set(add.map(key));
  const next = (list ?? []).filter((x) => !rm.includes(key(x)) && !addKeys.has(key(x)));
  next.push(...add);
  return next;
}

/**
 * Applies `shoal service update` flags to a copy of the current spec
 * (docker's --*-add / --*-rm semantics for lists). `now` stamps --force.
 */
export function updateSpec(current: ServiceSpec, f: UpdateFlags): ServiceSpec {
  const spec = structuredClone(current);
  const t = (spec.TaskTemplate ??= {});
  const c = (t.ContainerSpec ??= { Image: '' });
  if (f.image !== undefined) c.Image = f.image;
  if (f.args !== undefined) c.Args = flagValue('--args', f.args, splitWords);
  const envName = (e: string) => e.split('=')[0]!;
  c.Env = edit(c.Env, envName, (f.envAdd ?? []).map((e) => flagValue('--env-add', e, (s) => parseEnv(s))), f.envRm ?? []);
  if (f.labelAdd || f.labelRm) {
    const labels = { ...spec.Labels };
    for (const k of f.labelRm ?? []) delete labels[k];
    Object.assign(labels, labelMap('--label-add', f.labelAdd));
    spec.Labels = labels;
  }
  if (f.constraintAdd || f.constraintRm || f.placementPrefAdd || f.placementPrefRm) {
    const pl = { ...t.Placement };
    pl.Constraints = edit(pl.Constraints, (x) => x.replace(/\s+/g, ''), (f.constraintAdd ?? []).map((x) => flagValue('--constraint-add', x, parseConstraint)), (f.constraintRm ?? []).map((x) => x.replace(/\s+/g, '')));
    pl.Preferences = edit(
      pl.Preferences,
      (p) => `spread=${p.Spread.SpreadDescriptor}`,
      (f.placementPrefAdd ?? []).map((x) => flagValue('--placement-pref-add', x, parsePlacementPref)),
      (f.placementPrefRm ?? []).map((x) => x.trim()),
    );
    t.Placement = pl;
  }
  if (f.mountAdd || f.mountRm) c.Mounts = edit(c.Mounts, (m) => m.Target, (f.mountAdd ?? []).map((m) => flagValue('--mount-add', m, parseMount)), f.mountRm ?? []);
  if (f.publishAdd || f.publishRm) {
    const key = (p: EndpointPortConfig) => `${p.TargetPort}/${p.Protocol ?? 'tcp'}`;
    const rm = (f.publishRm ?? []).map((r) => (/\//.test(r) ? r : `${r}/tcp`).replace(/^\d+:/, ''));
    const ports = edit(spec.EndpointSpec?.Ports, key, (f.publishAdd ?? []).map((p) => flagValue('--publish-add', p, parsePublish)), rm);
    spec.EndpointSpec = { Mode: 'vip', ...spec.EndpointSpec, Ports: ports ?? [] };
  }
  if (f.networkAdd || f.networkRm) {
    // Targets here are IDs (the update command resolves the flags first): one network is one entry, in either list.
    const rm = new Set(f.networkRm ?? []);
    const add = (f.networkAdd ?? []).map((n) => flagValue('--network-add', n, parseNetwork));
    const keep = (l: NetworkAttachmentConfig[] | undefined) => l?.filter((n) => !rm.has(n.Target) && !add.some((a) => a.Target === n.Target));
    spec.Networks = keep(spec.Networks);
    if (spec.Networks?.length === 0) delete spec.Networks;
    t.Networks = [...(keep(t.Networks) ?? []), ...add];
  }
  applyScalars(spec, f);
  if (f.force) t.ForceUpdate = (t.ForceUpdate ?? 0) + 1;
  return spec;
}
