/**
 * Validation of a ServiceSpec as `docker service create/update` sends it:
 * every field we understand is type- and range-checked (400 naming the
 * field); fields we do not act on are kept verbatim so `service inspect`
 * round-trips them. Rules and limits follow SwarmKit's controlapi where it
 * has one (DNS-safe names, 4 MiB minimum memory, 1 ms minimum health
 * intervals, exactly one mode).
 */
import { MAX_REPLICAS, RUNTIME_NAMES, isJobMode, unsupportedAnywhere, type RuntimeName, unsupportedBy, type ServiceMode, type ServiceSpec, type TaskSpec } from '../../../model/index.js';
import {
  absent,
  describe,
  fail,
  obj,
  optArray,
  optBool,
  optEnum,
  optInt,
  optNumber,
  optObj,
  optString,
  optStringMap,
  optStrings,
  type Obj,
} from './check.js';
import { parseConstraint } from './constraints.js';
import { checkRefsApart, validateRefs } from './secret-spec.js';

const MAX_U64 = Number.MAX_SAFE_INTEGER;
const MIN_MEMORY = 4 * 1024 * 1024;
const MIN_NANO_CPUS = 1_000_000; // 0.001 CPU
const MS = 1_000_000;

/** SwarmKit's DNS name component rule for service names. */
const DNS_COMPONENT = /^[a-zA-Z0-9](?:[-_]*[A-Za-z0-9]+)*$/;

export const RUNTIMES = ['container', 'plugin', 'attachment', 'process', 'oci', 'docker'] as const;

export function validateName(name: string, field: string): void {
  if (name.length > 63) fail(field, `${JSON.stringify(name)} is too long (maximum is 63 characters)`);
  if (!DNS_COMPONENT.test(name)) fail(field, 'must be valid as a DNS name component');
}

/**
 * Checks `raw` and returns it as a ServiceSpec, with Mode defaulted to
 * Replicated{Replicas:1} (dockerd does the same for an empty mode) and nil
 * Labels made `{}`. `Name` may be empty here: creation names it.
 */
export function validateServiceSpec(raw: unknown): ServiceSpec {
  if (absent(raw)) fail('Spec', 'request body must be a ServiceSpec object');
  const spec = { ...obj(raw, 'Spec') };
  const name = optString(spec.Name, 'Spec.Name') ?? '';
  if (name !== '') validateName(name, 'Spec.Name');
  spec.Name = name;
  spec.Labels = optStringMap(spec.Labels, 'Spec.Labels') ?? {};
  spec.TaskTemplate = validateTaskSpec(spec.TaskTemplate, 'Spec.TaskTemplate');
  honoured(spec.TaskTemplate as TaskSpec, 'Spec.TaskTemplate');
  spec.Mode = validateMode(spec.Mode, 'Spec.Mode');
  if (isJobMode(spec.Mode as ServiceMode)) jobRules(spec);
  if (!absent(spec.UpdateConfig)) validateUpdateConfig(spec.UpdateConfig, 'Spec.UpdateConfig', ['continue', 'pause', 'rollback']);
  if (!absent(spec.RollbackConfig)) validateUpdateConfig(spec.RollbackConfig, 'Spec.RollbackConfig', ['continue', 'pause']);
  validateNetworks(spec.Networks, 'Spec.Networks');
  if (!absent(spec.EndpointSpec)) validateEndpointSpec(spec.EndpointSpec, 'Spec.EndpointSpec');
  for (const k of Object.keys(spec)) if (spec[k] === null) delete spec[k];
  return spec as unknown as ServiceSpec;
}

/**
 * A ContainerSpec field no runtime would carry out (or, when the service
 * names its runtime, that one would not) is a 400, not a field accepted and
 * dropped (model/runtime-support.ts). With the node's default runtime, the
 * agent rejects the task instead.
 */
function honoured(t: TaskSpec, field: string): void {
  const named = (RUNTIME_NAMES as readonly string[]).includes(t.Runtime ?? '') ? (t.Runtime as RuntimeName) : null;
  const bad = named ? unsupportedBy(t.ContainerSpec, named) : unsupportedAnywhere(t.ContainerSpec);
  if (bad.length === 0) return;
  fail(`${field}.ContainerSpec.${bad[0]}`, named ? `not supported by the ${named} runtime` : 'not supported by any Shoal runtime yet');
}

/**
 * A job's tasks run to completion (SwarmKit): its restart condition is
 * on-failure unless it says none (`any` would run a finished task again,
 * forever), and it has no rolling update: a new spec is a new run of the job,
 * so UpdateConfig and RollbackConfig would be accepted and never used.
 */
function jobRules(spec: Obj): void {
  for (const k of ['UpdateConfig', 'RollbackConfig']) {
    if (!absent(spec[k])) fail(`Spec.${k}`, 'a job has no rolling update: a new spec runs the job again (leave it unset)');
  }
  const t = spec.TaskTemplate as Obj;
  const rp = (t.RestartPolicy ?? {}) as Obj;
  if (rp.Condition === 'any') fail('Spec.TaskTemplate.RestartPolicy.Condition', 'a job runs to completion: on-failure (the default for jobs) or none, not any');
  t.RestartPolicy = { ...rp, Condition: rp.Condition ?? 'on-failure' };
}

/** The one mode set in `raw`; Replicated{Replicas:1} when none is. */
export function modeName(m: ServiceMode): 'Replicated' | 'Global' | 'ReplicatedJob' | 'GlobalJob' {
  if (m.Global) return 'Global';
  if (m.ReplicatedJob) return 'ReplicatedJob';
  if (m.GlobalJob) return 'GlobalJob';
  return 'Replicated';
}

function validateMode(raw: unknown, field: string): ServiceMode {
  const m = optObj(raw, field);
  if (!m) return { Replicated: { Replicas: 1 } };
  const set = (['Replicated', 'Global', 'ReplicatedJob', 'GlobalJob'] as const).filter((k) => !absent(m[k]));
  for (const k of Object.keys(m)) {
    if (!['Replicated', 'Global', 'ReplicatedJob', 'GlobalJob'].includes(k)) fail(`${field}.${k}`, 'unknown service mode (one of Replicated, Global, ReplicatedJob, GlobalJob)');
  }
  if (set.length > 1) fail(field, `exactly one of Replicated, Global, ReplicatedJob, GlobalJob may be set, not ${set.join(' and ')}`);
  const k = set[0];
  if (k === undefined) return { Replicated: { Replicas: 1 } };
  const body = obj(m[k], `${field}.${k}`);
  switch (k) {
    case 'Replicated':
      return { Replicated: { ...body, Replicas: optReplicas(body.Replicas, `${field}.Replicated.Replicas`) ?? 1 } };
    case 'ReplicatedJob': {
      const MaxConcurrent = optReplicas(body.MaxConcurrent, `${field}.ReplicatedJob.MaxConcurrent`);
      const TotalCompletions = optInt(body.TotalCompletions, `${field}.ReplicatedJob.TotalCompletions`, 0, MAX_U64);
      // Docker: unset MaxConcurrent is 1; unset TotalCompletions is MaxConcurrent.
      const mc = MaxConcurrent ?? 1;
      return { ReplicatedJob: { MaxConcurrent: mc, TotalCompletions: TotalCompletions ?? mc } };
    }
    case 'Global':
      return { Global: {} };
    case 'GlobalJob':
      return { GlobalJob: {} };
  }
}

/** A task count: a non-negative integer no larger than MAX_REPLICAS (model/objects.ts says why). */
function optReplicas(v: unknown, field: string): number | undefined {
  const n = optInt(v, field, 0, Infinity);
  if (n !== undefined && n > MAX_REPLICAS) fail(field, `must be at most ${MAX_REPLICAS} (the most tasks one service may have), not ${n}`);
  return n;
}

function validateTaskSpec(raw: unknown, field: string): Obj {
  if (absent(raw)) fail(field, 'must be provided');
  const t = { ...obj(raw, field) };
  const runtime = optString(t.Runtime, `${field}.Runtime`);
  if (runtime !== undefined && runtime !== '' && !(RUNTIMES as readonly string[]).includes(runtime)) {
    fail(`${field}.Runtime`, `unknown runtime ${JSON.stringify(runtime)} (one of ${RUNTIMES.join(', ')})`);
  }
  if (absent(t.ContainerSpec)) fail(`${field}.ContainerSpec`, 'must be provided');
  t.ContainerSpec = validateContainerSpec(t.ContainerSpec, `${field}.ContainerSpec`, runtime);
  const res = optObj(t.Resources, `${field}.Resources`);
  if (res) {
    const lim = optObj(res.Limits, `${field}.Resources.Limits`);
    if (lim) {
      resourceValues(lim, `${field}.Resources.Limits`);
      optInt(lim.Pids, `${field}.Resources.Limits.Pids`, 0);
    }
    const rsv = optObj(res.Reservations, `${field}.Resources.Reservations`);
    if (rsv) resourceValues(rsv, `${field}.Resources.Reservations`);
  }
  const rp = optObj(t.RestartPolicy, `${field}.RestartPolicy`);
  if (rp) {
    optEnum(rp.Condition, `${field}.RestartPolicy.Condition`, ['none', 'on-failure', 'any'] as const);
    optInt(rp.Delay, `${field}.RestartPolicy.Delay`, 0);
    optInt(rp.MaxAttempts, `${field}.RestartPolicy.MaxAttempts`, 0, MAX_U64);
    optInt(rp.Window, `${field}.RestartPolicy.Window`, 0);
  }
  const pl = optObj(t.Placement, `${field}.Placement`);
  if (pl) validatePlacement(pl, `${field}.Placement`);
  optInt(t.ForceUpdate, `${field}.ForceUpdate`, 0, MAX_U64);
  validateNetworks(t.Networks, `${field}.Networks`);
  const ld = optObj(t.LogDriver, `${field}.LogDriver`);
  if (ld) {
    optString(ld.Name, `${field}.LogDriver.Name`);
    optStringMap(ld.Options, `${field}.LogDriver.Options`);
  }
  return t;
}

function resourceValues(r: Obj, field: string): void {
  const cpu = optInt(r.NanoCPUs, `${field}.NanoCPUs`, 0);
  if (cpu !== undefined && cpu !== 0 && cpu < MIN_NANO_CPUS) fail(`${field}.NanoCPUs`, `${cpu} is too small: must be at least ${MIN_NANO_CPUS} (0.001 CPU)`);
  const mem = optInt(r.MemoryBytes, `${field}.MemoryBytes`, 0);
  if (mem !== undefined && mem !== 0 && mem < MIN_MEMORY) fail(`${field}.MemoryBytes`, `${mem} is too small: must be at least 4MiB`);
}

function validateContainerSpec(raw: unknown, field: string, runtime: string | undefined): Obj {
  const c = { ...obj(raw, field) };
  const image = optString(c.Image, `${field}.Image`) ?? '';
  // The process runtime runs a command on the host: no image needed.
  if (image === '' && runtime !== 'process') fail(`${field}.Image`, 'an image reference must be provided');
  c.Image = image;
  c.Labels = optStringMap(c.Labels, `${field}.Labels`);
  for (const k of ['Command', 'Args', 'Env', 'Groups', 'Hosts', 'CapabilityAdd', 'CapabilityDrop'] as const) optStrings(c[k], `${field}.${k}`);
  for (const k of ['Hostname', 'Dir', 'User', 'StopSignal'] as const) optString(c[k], `${field}.${k}`);
  for (const k of ['TTY', 'OpenStdin', 'ReadOnly', 'Init'] as const) optBool(c[k], `${field}.${k}`);
  (optStrings(c.Env, `${field}.Env`) ?? []).forEach((e, i) => {
    if (e === '' || e.startsWith('=')) fail(`${field}.Env[${i}]`, `${JSON.stringify(e)} must be NAME=value`);
  });
  optInt(c.StopGracePeriod, `${field}.StopGracePeriod`, 0);
  // The API reference spells it HealthCheck; the docker CLI sends Go's field name, Healthcheck
  // (dockerd's JSON decoding ignores case). Both are the one field: kept as HealthCheck, never dropped.
  if (c.Healthcheck !== undefined) {
    if (c.HealthCheck !== undefined) fail(`${field}.Healthcheck`, 'given twice (as Healthcheck and HealthCheck)');
    c.HealthCheck = c.Healthcheck;
    delete c.Healthcheck;
  }
  const hc = optObj(c.HealthCheck, `${field}.HealthCheck`);
  if (hc) validateHealth(hc, `${field}.HealthCheck`);
  validateMounts(c.Mounts, `${field}.Mounts`);
  // Existence is checked (and IDs resolved) by the route against the store: secret-refs.ts.
  c.Secrets = validateRefs('secret', c.Secrets, `${field}.Secrets`);
  c.Configs = validateRefs('config', c.Configs, `${field}.Configs`);
  checkRefsApart(c.Secrets as Obj[] | undefined, c.Configs as Obj[] | undefined, field);
  optStringMap(c.Sysctls, `${field}.Sysctls`);
  optArray(c.Ulimits, `${field}.Ulimits`)?.forEach((u, i) => {
    const f = `${field}.Ulimits[${i}]`;
    const o = obj(u, f);
    if (!optString(o.Name, `${f}.Name`)) fail(`${f}.Name`, 'must be provided');
    optInt(o.Soft, `${f}.Soft`);
    optInt(o.Hard, `${f}.Hard`);
  });
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

function validateHealth(hc: Obj, field: string): void {
  const test = optStrings(hc.Test, `${field}.Test`);
  if (test && test.length > 0 && !['NONE', 'CMD', 'CMD-SHELL'].includes(test[0]!)) {
    fail(`${field}.Test`, `must start with "NONE", "CMD" or "CMD-SHELL", not ${describe(test[0])}`);
  }
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval'] as const) {
    const v = optInt(hc[k], `${field}.${k}`, 0);
    if (v !== undefined && v !== 0 && v < MS && k !== 'StartPeriod') fail(`${field}.${k}`, 'must be at least 1ms');
  }
  optInt(hc.Retries, `${field}.Retries`, 0);
}

function validateMounts(raw: unknown, field: string): void {
  const targets = new Set<string>();
  optArray(raw, field)?.forEach((m, i) => {
    const f = `${field}[${i}]`;
    const o = obj(m, f);
    const type = optEnum(o.Type, `${f}.Type`, ['bind', 'volume', 'tmpfs', 'npipe', 'cluster'] as const);
    if (!type) fail(`${f}.Type`, 'must be provided');
    const target = optString(o.Target, `${f}.Target`);
    if (!target) fail(`${f}.Target`, 'must be provided');
    if (targets.has(target)) fail(`${f}.Target`, `${JSON.stringify(target)} is mounted more than once`);
    targets.add(target);
    const source = optString(o.Source, `${f}.Source`);
    if (type === 'bind' && (!source || !source.startsWith('/'))) fail(`${f}.Source`, 'a bind mount needs an absolute source path');
    if (type === 'tmpfs' && source) fail(`${f}.Source`, 'a tmpfs mount takes no source');
    optBool(o.ReadOnly, `${f}.ReadOnly`);
  });
}

function validatePlacement(pl: Obj, field: string): void {
  optStrings(pl.Constraints, `${field}.Constraints`)?.forEach((c, i) => {
    try {
      parseConstraint(c);
    } catch (err) {
      fail(`${field}.Constraints[${i}]`, (err as Error).message);
    }
  });
  optArray(pl.Preferences, `${field}.Preferences`)?.forEach((p, i) => {
    const f = `${field}.Preferences[${i}]`;
    const spread = obj(obj(p, f).Spread, `${f}.Spread`);
    const d = optString(spread.SpreadDescriptor, `${f}.Spread.SpreadDescriptor`);
    if (!d) fail(`${f}.Spread.SpreadDescriptor`, 'must be provided (e.g. node.labels.zone)');
    if (!/^(node|engine)\.labels\.[^\s]+$/i.test(d) && !/^node\.(id|hostname|role|platform\.os|platform\.arch)$/i.test(d)) {
      fail(`${f}.Spread.SpreadDescriptor`, `${JSON.stringify(d)} is not a node attribute (e.g. node.labels.zone)`);
    }
  });
  optInt(pl.MaxReplicas, `${field}.MaxReplicas`, 0, MAX_U64);
  optArray(pl.Platforms, `${field}.Platforms`)?.forEach((p, i) => {
    const o = obj(p, `${field}.Platforms[${i}]`);
    optString(o.Architecture, `${field}.Platforms[${i}].Architecture`);
    optString(o.OS, `${field}.Platforms[${i}].OS`);
  });
}

function validateUpdateConfig(raw: unknown, field: string, actions: readonly ('continue' | 'pause' | 'rollback')[]): void {
  const u = obj(raw, field);
  optInt(u.Parallelism, `${field}.Parallelism`, 0, MAX_U64);
  optInt(u.Delay, `${field}.Delay`, 0);
  optEnum(u.FailureAction, `${field}.FailureAction`, actions);
  optInt(u.Monitor, `${field}.Monitor`, 0);
  optNumber(u.MaxFailureRatio, `${field}.MaxFailureRatio`, 0, 1);
  optEnum(u.Order, `${field}.Order`, ['stop-first', 'start-first'] as const);
}

function validateNetworks(raw: unknown, field: string): void {
  optArray(raw, field)?.forEach((n, i) => {
    const o = obj(n, `${field}[${i}]`);
    if (!optString(o.Target, `${field}[${i}].Target`)) fail(`${field}[${i}].Target`, 'must name a network');
    optStrings(o.Aliases, `${field}[${i}].Aliases`);
    optStringMap(o.DriverOpts, `${field}[${i}].DriverOpts`);
  });
}

function validateEndpointSpec(raw: unknown, field: string): void {
  const e = obj(raw, field);
  const mode = optEnum(e.Mode, `${field}.Mode`, ['vip', 'dnsrr'] as const) ?? 'vip';
  const seen = new Set<string>();
  optArray(e.Ports, `${field}.Ports`)?.forEach((p, i) => {
    const f = `${field}.Ports[${i}]`;
    const o = obj(p, f);
    optString(o.Name, `${f}.Name`);
    const proto = optEnum(o.Protocol, `${f}.Protocol`, ['tcp', 'udp', 'sctp'] as const) ?? 'tcp';
    const target = optInt(o.TargetPort, `${f}.TargetPort`, 1, 65535);
    if (target === undefined) fail(`${f}.TargetPort`, 'must be provided');
    const published = optInt(o.PublishedPort, `${f}.PublishedPort`, 0, 65535) ?? 0;
    const pmode = optEnum(o.PublishMode, `${f}.PublishMode`, ['ingress', 'host'] as const) ?? 'ingress';
    if (mode === 'dnsrr' && pmode === 'ingress' && published !== 0) {
      fail(`${f}.PublishMode`, 'a port published in ingress mode cannot be used with endpoint mode dnsrr');
    }
    if (published !== 0) {
      const key = `${published}/${proto}`;
      if (seen.has(key)) fail(`${f}.PublishedPort`, `duplicate published port ${key}`);
      seen.add(key);
    }
  });
}

