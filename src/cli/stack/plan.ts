/**
 * A compose document (source.ts) → what a stack deploy creates: Engine API
 * service specs, networks, secrets and configs, each labelled with the stack
 * (`com.docker.stack.namespace`), as `docker stack deploy` makes them. The
 * whole file is checked before anything is sent: the first problem is a
 * ComposeError naming the file, line and key. Keys of the Compose
 * Specification that a swarm cannot carry out (build, privileged, …) are
 * warned about and ignored, as docker does; keys that are not Compose at all
 * (a typo) are errors.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ConfigReference, EndpointPortConfig, HealthConfig, Mount, NetworkAttachmentConfig, RestartPolicy, SecretReference, ServiceSpec, UpdateConfig } from '../../model/index.js';
import { parseBytes, parseCpus, parseDuration } from '../units.js';
import { parseConstraint } from '../../model/constraints.js';
import { splitWords } from '../commands/service-create-flags.js';
import { ComposeError, type ComposeSource } from './source.js';

export const STACK_LABEL = 'com.docker.stack.namespace';
const IMAGE_LABEL = 'com.docker.stack.image';

export interface PlannedNetwork {
  key: string;
  name: string;
  external: boolean;
  body: { Name: string; Driver: string; Attachable?: boolean; Internal?: boolean; Labels: Record<string, string>; Options?: Record<string, string>; IPAM?: { Config: { Subnet: string }[] } };
}

export interface PlannedData {
  key: string;
  name: string;
  external: boolean;
  /** The file's bytes (not external). */
  data?: Buffer;
  labels: Record<string, string>;
}

export interface PlannedService {
  key: string;
  spec: ServiceSpec;
  /** Services (by compose key) that start first; `healthy`: wait until their tasks are healthy. */
  dependsOn: { key: string; healthy: boolean }[];
}

export interface StackPlan {
  stack: string;
  services: PlannedService[];
  networks: PlannedNetwork[];
  secrets: PlannedData[];
  configs: PlannedData[];
  /** Keys ignored because a swarm cannot carry them out (docker's "Ignoring unsupported options"). */
  ignored: string[];
}

/** Service keys a swarm cannot honour: warned about and dropped, as docker stack deploy does. */
const UNSUPPORTED_SERVICE_KEYS = new Set([
  'build', 'cgroup_parent', 'container_name', 'devices', 'extra_hosts', 'external_links', 'links', 'network_mode', 'privileged', 'restart', 'security_opt',
  'userns_mode', 'cap_add', 'cap_drop', 'ulimits', 'sysctls', 'domainname', 'ipc', 'mac_address', 'pid', 'shm_size', 'stdin_open', 'tty', 'read_only',
  'logging', 'dns', 'dns_search', 'dns_opt', 'env_file', 'profiles', 'pull_policy', 'platform', 'scale', 'oom_score_adj', 'mem_limit', 'cpus', 'expose',
]);
const SERVICE_KEYS = new Set([
  'image', 'command', 'entrypoint', 'environment', 'labels', 'deploy', 'healthcheck', 'ports', 'networks', 'secrets', 'configs', 'volumes', 'working_dir',
  'user', 'hostname', 'stop_grace_period', 'stop_signal', 'init', 'depends_on', 'runtime',
]);
const TOP_KEYS = new Set(['version', 'name', 'services', 'networks', 'volumes', 'secrets', 'configs']);

type Obj = Record<string, unknown>;

class Reader {
  readonly ignored: string[] = [];
  constructor(readonly src: ComposeSource) {}

  fail(key: string, problem: string): never {
    throw new ComposeError(this.src.where.get(key) ?? this.nearest(key), key, problem);
  }

  private nearest(key: string) {
    for (let k = key; k; k = k.includes('.') || k.includes('[') ? k.replace(/(\.[^.[]+|\[\d+\])$/, '') : '') {
      const w = this.src.where.get(k);
      if (w) return w;
    }
    return null;
  }

  map(key: string, v: unknown): Obj {
    if (v === null || v === undefined) return {};
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, `must be a map, got ${describe(v)}`);
    return v as Obj;
  }

  keys(key: string, o: Obj, allowed: Set<string>, unsupported: Set<string> = new Set()): void {
    for (const k of Object.keys(o)) {
      if (k.startsWith('x-') || allowed.has(k)) continue;
      if (unsupported.has(k)) this.ignored.push(key ? `${key}.${k}` : k);
      else this.fail(key ? `${key}.${k}` : k, `is not a Compose key${key ? ` of ${key.replace(/\[\d+\]$/, '')}` : ''} (allowed: ${[...allowed].sort().join(', ')})`);
    }
  }

  str(key: string, v: unknown): string {
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    return this.fail(key, `must be a string, got ${describe(v)}`);
  }

  optStr(key: string, v: unknown): string | undefined {
    return v === undefined || v === null ? undefined : this.str(key, v);
  }

  int(key: string, v: unknown, min = 0): number {
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min) this.fail(key, `must be a whole number ≥ ${min}, got ${describe(v)}`);
    return n as number;
  }

  bool(key: string, v: unknown): boolean {
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'false') return v === 'true';
    return this.fail(key, `must be true or false, got ${describe(v)}`);
  }

  /** Compose durations: `10s`, `1m30s`, or a number of seconds. */
  duration(key: string, v: unknown): number {
    if (typeof v === 'number' && v >= 0) return Math.round(v * 1e9);
    try {
      return parseDuration(this.str(key, v));
    } catch (err) {
      return this.fail(key, (err as Error).message);
    }
  }

  bytes(key: string, v: unknown): number {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    try {
      return parseBytes(this.str(key, v));
    } catch (err) {
      return this.fail(key, (err as Error).message);
    }
  }

  list(key: string, v: unknown): unknown[] {
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) this.fail(key, `must be a list, got ${describe(v)}`);
    return v as unknown[];
  }

  /** A string (split like a shell) or a list of strings: command, entrypoint. */
  words(key: string, v: unknown): string[] {
    if (typeof v === 'string') return splitWords(v);
    return this.list(key, v).map((x, i) => this.str(`${key}[${i}]`, x));
  }

  /** A list of `K=V` or a map of K: V (null: from the environment): environment, labels. */
  kv(key: string, v: unknown, env: NodeJS.ProcessEnv | null): Record<string, string> {
    const out: Record<string, string> = {};
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        const s = this.str(`${key}[${i}]`, x);
        const eq = s.indexOf('=');
        if (eq < 0) {
          if (env && env[s] !== undefined) out[s] = env[s]!;
          else if (!env) out[s] = '';
        } else out[s.slice(0, eq)] = s.slice(eq + 1);
      });
      return out;
    }
    for (const [k, x] of Object.entries(this.map(key, v))) {
      if (x === null || x === undefined) {
        if (env && env[k] !== undefined) out[k] = env[k]!;
        else if (!env) out[k] = '';
      } else out[k] = this.str(`${key}.${k}`, x);
    }
    return out;
  }
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return JSON.stringify(v);
}

const STACK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function planStack(stack: string, src: ComposeSource, env: NodeJS.ProcessEnv = process.env): StackPlan {
  if (!STACK_NAME.test(stack)) throw new ComposeError(null, '', `stack name ${JSON.stringify(stack)} is invalid: letters, digits, _ . - (starting with a letter or digit)`);
  const r = new Reader(src);
  const top = src.value;
  r.keys('', top, TOP_KEYS);
  const services = r.map('services', top.services);
  if (Object.keys(services).length === 0) r.fail('services', 'the file defines no service');
  const label = { [STACK_LABEL]: stack };
  const scoped = (key: string, o: Obj) => (o.name !== undefined ? r.str(`${key}.name`, o.name) : `${stack}_${key.slice(key.indexOf('.') + 1)}`);

  // ---- networks
  const networks: PlannedNetwork[] = [];
  const netByKey = new Map<string, PlannedNetwork>();
  for (const [k, v] of Object.entries(r.map('networks', top.networks))) {
    const key = `networks.${k}`;
    const o = r.map(key, v);
    r.keys(key, o, new Set(['driver', 'attachable', 'internal', 'external', 'name', 'labels', 'driver_opts', 'ipam']), new Set(['enable_ipv6']));
    const external = o.external !== undefined && r.bool(`${key}.external`, o.external);
    const driver = o.driver === undefined ? 'overlay' : r.str(`${key}.driver`, o.driver);
    if (driver !== 'overlay') r.fail(`${key}.driver`, `a stack's networks are overlay networks, got ${JSON.stringify(driver)}`);
    const ipam = r.map(`${key}.ipam`, o.ipam);
    const subnets = r.list(`${key}.ipam.config`, ipam.config).map((c, i) => r.str(`${key}.ipam.config[${i}].subnet`, r.map(`${key}.ipam.config[${i}]`, c).subnet));
    const n: PlannedNetwork = {
      key: k,
      name: external ? (o.name !== undefined ? r.str(`${key}.name`, o.name) : k) : scoped(key, o),
      external,
      body: {
        Name: '',
        Driver: 'overlay',
        ...(o.attachable !== undefined ? { Attachable: r.bool(`${key}.attachable`, o.attachable) } : {}),
        ...(o.internal !== undefined ? { Internal: r.bool(`${key}.internal`, o.internal) } : {}),
        Labels: { ...r.kv(`${key}.labels`, o.labels, null), ...label },
        ...(o.driver_opts !== undefined ? { Options: r.kv(`${key}.driver_opts`, o.driver_opts, null) } : {}),
        ...(subnets.length > 0 ? { IPAM: { Config: subnets.map((s) => ({ Subnet: s })) } } : {}),
      },
    };
    n.body.Name = n.name;
    networks.push(n);
    netByKey.set(k, n);
  }

  // ---- volumes (named): a stack's named volume is `<stack>_<name>` on each node
  const volumes = new Map<string, string>();
  for (const [k, v] of Object.entries(r.map('volumes', top.volumes))) {
    const key = `volumes.${k}`;
    const o = r.map(key, v);
    r.keys(key, o, new Set(['external', 'name']), new Set(['driver', 'driver_opts', 'labels']));
    const external = o.external !== undefined && r.bool(`${key}.external`, o.external);
    volumes.set(k, external ? (o.name !== undefined ? r.str(`${key}.name`, o.name) : k) : scoped(key, o));
  }

  // ---- secrets and configs: from a file, or external
  const data = (kind: 'secrets' | 'configs'): PlannedData[] =>
    Object.entries(r.map(kind, top[kind])).map(([k, v]) => {
      const key = `${kind}.${k}`;
      const o = r.map(key, v);
      r.keys(key, o, new Set(['file', 'external', 'name', 'labels']), new Set(['environment', 'template_driver', 'driver']));
      const external = o.external !== undefined && r.bool(`${key}.external`, o.external);
      if (external) return { key: k, name: o.name !== undefined ? r.str(`${key}.name`, o.name) : k, external, labels: {} };
      if (o.file === undefined) r.fail(key, 'needs file: PATH (or external: true)');
      const file = path.resolve(src.dir, r.str(`${key}.file`, o.file));
      let bytes: Buffer;
      try {
        bytes = readFileSync(file);
      } catch (err) {
        return r.fail(`${key}.file`, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
      }
      return { key: k, name: scoped(key, o), external, data: bytes, labels: { ...r.kv(`${key}.labels`, o.labels, null), ...label } };
    });
  const secrets = data('secrets');
  const configs = data('configs');
  const secretByKey = new Map(secrets.map((s) => [s.key, s]));
  const configByKey = new Map(configs.map((c) => [c.key, c]));

  // ---- services
  const planned: PlannedService[] = [];
  let usesDefault = false;
  for (const [k, v] of Object.entries(services)) {
    const key = `services.${k}`;
    const s = r.map(key, v);
    r.keys(key, s, SERVICE_KEYS, UNSUPPORTED_SERVICE_KEYS);
    if (s.image === undefined) r.fail(key, s.build !== undefined ? 'needs image: a stack deploys images, it does not build them (build is ignored)' : 'needs image:');
    const image = r.str(`${key}.image`, s.image);
    const deploy = r.map(`${key}.deploy`, s.deploy);
    r.keys(`${key}.deploy`, deploy, new Set(['mode', 'replicas', 'placement', 'resources', 'restart_policy', 'update_config', 'rollback_config', 'labels', 'endpoint_mode']));

    // networks: a list, or a map with aliases; none given → the stack's default network
    let nets: NetworkAttachmentConfig[];
    const netKeyOf = (nk: string, at: string) => {
      if (nk === 'default') {
        usesDefault = true;
        return `${stack}_default`;
      }
      const n = netByKey.get(nk);
      if (!n) return r.fail(at, `network ${JSON.stringify(nk)} is not defined under the top-level networks:`);
      return n.name;
    };
    if (s.networks === undefined) {
      usesDefault = true;
      nets = [{ Target: `${stack}_default`, Aliases: [k] }];
    } else if (Array.isArray(s.networks)) {
      nets = s.networks.map((x, i) => ({ Target: netKeyOf(r.str(`${key}.networks[${i}]`, x), `${key}.networks[${i}]`), Aliases: [k] }));
    } else {
      nets = Object.entries(r.map(`${key}.networks`, s.networks)).map(([nk, nv]) => {
        const o = r.map(`${key}.networks.${nk}`, nv);
        r.keys(`${key}.networks.${nk}`, o, new Set(['aliases']), new Set(['ipv4_address', 'ipv6_address', 'priority']));
        const aliases = r.list(`${key}.networks.${nk}.aliases`, o.aliases).map((a, i) => r.str(`${key}.networks.${nk}.aliases[${i}]`, a));
        return { Target: netKeyOf(nk, `${key}.networks.${nk}`), Aliases: [k, ...aliases] };
      });
    }

    const refs = <T>(kind: 'secrets' | 'configs', byKey: Map<string, PlannedData>, make: (d: PlannedData, file: { Name: string; UID: string; GID: string; Mode: number }) => T): T[] =>
      r.list(`${key}.${kind}`, s[kind]).map((x, i) => {
        const at = `${key}.${kind}[${i}]`;
        const o = typeof x === 'string' ? { source: x } : r.map(at, x);
        r.keys(at, o, new Set(['source', 'target', 'uid', 'gid', 'mode']));
        const source = r.str(`${at}.source`, o.source);
        const d = byKey.get(source) ?? r.fail(at, `${kind.slice(0, -1)} ${JSON.stringify(source)} is not defined under the top-level ${kind}:`);
        const mode = o.mode === undefined ? 0o444 : typeof o.mode === 'number' ? o.mode : parseInt(r.str(`${at}.mode`, o.mode), 8);
        if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) r.fail(`${at}.mode`, `must be a file mode such as 0440, got ${describe(o.mode)}`);
        return make(d, { Name: o.target !== undefined ? r.str(`${at}.target`, o.target) : source, UID: o.uid !== undefined ? r.str(`${at}.uid`, o.uid) : '0', GID: o.gid !== undefined ? r.str(`${at}.gid`, o.gid) : '0', Mode: mode });
      });
    const secretRefs = refs<SecretReference>('secrets', secretByKey, (d, File) => ({ SecretID: '', SecretName: d.name, File }));
    const configRefs = refs<ConfigReference>('configs', configByKey, (d, File) => ({ ConfigID: '', ConfigName: d.name, File }));

    const spec: ServiceSpec = {
      Name: `${stack}_${k}`,
      Labels: { ...r.kv(`${key}.deploy.labels`, deploy.labels, null), ...label, [IMAGE_LABEL]: image },
      TaskTemplate: {
        ContainerSpec: {
          Image: image,
          Labels: { ...r.kv(`${key}.labels`, s.labels, null), ...label },
          ...(s.entrypoint !== undefined ? { Command: r.words(`${key}.entrypoint`, s.entrypoint) } : {}),
          ...(s.command !== undefined ? { Args: r.words(`${key}.command`, s.command) } : {}),
          ...(s.environment !== undefined ? { Env: Object.entries(r.kv(`${key}.environment`, s.environment, env)).map(([ek, ev]) => `${ek}=${ev}`) } : {}),
          ...(s.working_dir !== undefined ? { Dir: r.str(`${key}.working_dir`, s.working_dir) } : {}),
          ...(s.user !== undefined ? { User: r.str(`${key}.user`, s.user) } : {}),
          ...(s.hostname !== undefined ? { Hostname: r.str(`${key}.hostname`, s.hostname) } : {}),
          ...(s.stop_grace_period !== undefined ? { StopGracePeriod: r.duration(`${key}.stop_grace_period`, s.stop_grace_period) } : {}),
          ...(s.stop_signal !== undefined ? { StopSignal: r.str(`${key}.stop_signal`, s.stop_signal) } : {}),
          ...(s.init !== undefined ? { Init: r.bool(`${key}.init`, s.init) } : {}),
          ...(s.healthcheck !== undefined ? { HealthCheck: healthcheck(r, `${key}.healthcheck`, s.healthcheck) } : {}),
          ...(s.volumes !== undefined ? { Mounts: mounts(r, `${key}.volumes`, s.volumes, volumes, src.dir) } : {}),
          ...(secretRefs.length > 0 ? { Secrets: secretRefs } : {}),
          ...(configRefs.length > 0 ? { Configs: configRefs } : {}),
        },
        ...(s.runtime !== undefined ? { Runtime: runtime(r, `${key}.runtime`, s.runtime) } : {}),
        ...resources(r, `${key}.deploy.resources`, deploy.resources),
        ...(deploy.restart_policy !== undefined ? { RestartPolicy: restartPolicy(r, `${key}.deploy.restart_policy`, deploy.restart_policy) } : {}),
        ...placement(r, `${key}.deploy.placement`, deploy.placement),
      },
      Mode: mode(r, `${key}.deploy`, deploy),
      ...(deploy.update_config !== undefined ? { UpdateConfig: updateConfig(r, `${key}.deploy.update_config`, deploy.update_config) } : {}),
      ...(deploy.rollback_config !== undefined ? { RollbackConfig: updateConfig(r, `${key}.deploy.rollback_config`, deploy.rollback_config) } : {}),
      Networks: nets,
      EndpointSpec: {
        ...(deploy.endpoint_mode !== undefined ? { Mode: endpointMode(r, `${key}.deploy.endpoint_mode`, deploy.endpoint_mode) } : {}),
        ...(s.ports !== undefined ? { Ports: ports(r, `${key}.ports`, s.ports) } : {}),
      },
    };
    planned.push({ key: k, spec, dependsOn: dependsOn(r, `${key}.depends_on`, s.depends_on, services) });
  }
  if (usesDefault && !netByKey.has('default')) {
    const n: PlannedNetwork = { key: 'default', name: `${stack}_default`, external: false, body: { Name: `${stack}_default`, Driver: 'overlay', Labels: { ...label } } };
    networks.push(n);
  }
  return { stack, services: startOrder(r, planned), networks, secrets, configs, ignored: r.ignored };
}

function runtime(r: Reader, key: string, v: unknown): string {
  const s = r.str(key, v);
  if (!['process', 'oci', 'docker'].includes(s)) r.fail(key, `must be process, oci or docker (Shoal's task runtimes), got ${JSON.stringify(s)}`);
  return s;
}

function mode(r: Reader, key: string, d: Obj): ServiceSpec['Mode'] {
  const m = d.mode === undefined ? 'replicated' : r.str(`${key}.mode`, d.mode);
  const replicas = d.replicas === undefined ? undefined : r.int(`${key}.replicas`, d.replicas);
  switch (m) {
    case 'replicated':
      return { Replicated: { Replicas: replicas ?? 1 } };
    case 'global':
      if (replicas !== undefined) r.fail(`${key}.replicas`, 'a global service runs one task per node: drop replicas or use mode: replicated');
      return { Global: {} };
    case 'replicated-job':
      return { ReplicatedJob: { MaxConcurrent: replicas ?? 1, TotalCompletions: replicas ?? 1 } };
    case 'global-job':
      return { GlobalJob: {} };
    default:
      return r.fail(`${key}.mode`, `must be replicated, global, replicated-job or global-job, got ${JSON.stringify(m)}`);
  }
}

function endpointMode(r: Reader, key: string, v: unknown): 'vip' | 'dnsrr' {
  const s = r.str(key, v);
  if (s !== 'vip' && s !== 'dnsrr') r.fail(key, `must be vip or dnsrr, got ${JSON.stringify(s)}`);
  return s as 'vip' | 'dnsrr';
}

function healthcheck(r: Reader, key: string, v: unknown): HealthConfig {
  const h = r.map(key, v);
  r.keys(key, h, new Set(['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable']));
  if (h.disable !== undefined && r.bool(`${key}.disable`, h.disable)) return { Test: ['NONE'] };
  let test: string[] | undefined;
  if (typeof h.test === 'string') test = ['CMD-SHELL', h.test];
  else if (h.test !== undefined) {
    test = r.list(`${key}.test`, h.test).map((x, i) => r.str(`${key}.test[${i}]`, x));
    if (!['CMD', 'CMD-SHELL', 'NONE'].includes(test[0] ?? '')) r.fail(`${key}.test`, `a list must start with CMD, CMD-SHELL or NONE, got ${JSON.stringify(test[0] ?? '')}`);
  }
  return {
    ...(test ? { Test: test } : {}),
    ...(h.interval !== undefined ? { Interval: r.duration(`${key}.interval`, h.interval) } : {}),
    ...(h.timeout !== undefined ? { Timeout: r.duration(`${key}.timeout`, h.timeout) } : {}),
    ...(h.retries !== undefined ? { Retries: r.int(`${key}.retries`, h.retries) } : {}),
    ...(h.start_period !== undefined ? { StartPeriod: r.duration(`${key}.start_period`, h.start_period) } : {}),
    ...(h.start_interval !== undefined ? { StartInterval: r.duration(`${key}.start_interval`, h.start_interval) } : {}),
  };
}

function port(r: Reader, key: string, v: unknown): number {
  const n = r.int(key, v, 1);
  if (n > 65535) r.fail(key, `must be a port, 1-65535, got ${n}`);
  return n;
}

function ports(r: Reader, key: string, v: unknown): EndpointPortConfig[] {
  return r.list(key, v).map((x, i) => {
    const at = `${key}[${i}]`;
    if (typeof x === 'number' || typeof x === 'string') {
      const s = String(x).trim();
      // No ranges (8080-8081:80): a swarm publishes one port per entry.
      const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp|sctp))?$/.exec(s);
      if (!m) {
        if (/^[\d.]+:\d+:\d+/.test(s) || s.startsWith('[')) r.fail(at, `a host IP in a published port is not supported by a swarm's routing mesh: use PUBLISHED:TARGET, got ${JSON.stringify(s)}`);
        r.fail(at, `must be [PUBLISHED:]TARGET[/PROTOCOL], e.g. "8080:80" or "53:53/udp", got ${JSON.stringify(s)}`);
      }
      return { Protocol: (m[3] ?? 'tcp') as 'tcp', TargetPort: port(r, at, m[2]), ...(m[1] ? { PublishedPort: port(r, at, m[1]) } : {}), PublishMode: 'ingress' as const };
    }
    const o = r.map(at, x);
    r.keys(at, o, new Set(['target', 'published', 'protocol', 'mode', 'name']), new Set(['host_ip', 'app_protocol']));
    if (o.target === undefined) r.fail(at, 'needs target: PORT');
    const proto = o.protocol === undefined ? 'tcp' : r.str(`${at}.protocol`, o.protocol);
    if (!['tcp', 'udp', 'sctp'].includes(proto)) r.fail(`${at}.protocol`, `must be tcp, udp or sctp, got ${JSON.stringify(proto)}`);
    const pm = o.mode === undefined ? 'ingress' : r.str(`${at}.mode`, o.mode);
    if (pm !== 'ingress' && pm !== 'host') r.fail(`${at}.mode`, `must be ingress or host, got ${JSON.stringify(pm)}`);
    return {
      ...(o.name !== undefined ? { Name: r.str(`${at}.name`, o.name) } : {}),
      Protocol: proto as 'tcp',
      TargetPort: port(r, `${at}.target`, o.target),
      ...(o.published !== undefined ? { PublishedPort: port(r, `${at}.published`, o.published) } : {}),
      PublishMode: pm as 'ingress' | 'host',
    };
  });
}

function mounts(r: Reader, key: string, v: unknown, named: Map<string, string>, dir: string): Mount[] {
  return r.list(key, v).map((x, i) => {
    const at = `${key}[${i}]`;
    let type: string;
    let source: string;
    let target: string;
    let readOnly = false;
    if (typeof x === 'string') {
      const parts = x.split(':');
      if (parts.length < 2 || parts.length > 3) r.fail(at, `must be SOURCE:TARGET[:ro|rw], got ${JSON.stringify(x)}`);
      [source, target] = [parts[0]!, parts[1]!];
      if (parts[2] !== undefined && parts[2] !== 'ro' && parts[2] !== 'rw') r.fail(at, `the mode must be ro or rw, got ${JSON.stringify(parts[2])}`);
      readOnly = parts[2] === 'ro';
      type = /^[./~]/.test(source) ? 'bind' : 'volume';
    } else {
      const o = r.map(at, x);
      r.keys(at, o, new Set(['type', 'source', 'target', 'read_only']), new Set(['bind', 'volume', 'tmpfs', 'consistency']));
      type = o.type === undefined ? 'volume' : r.str(`${at}.type`, o.type);
      if (!['bind', 'volume', 'tmpfs'].includes(type)) r.fail(`${at}.type`, `must be bind, volume or tmpfs, got ${JSON.stringify(type)}`);
      source = o.source === undefined ? '' : r.str(`${at}.source`, o.source);
      if (o.target === undefined) r.fail(at, 'needs target: PATH');
      target = r.str(`${at}.target`, o.target);
      readOnly = o.read_only !== undefined && r.bool(`${at}.read_only`, o.read_only);
    }
    if (!target.startsWith('/')) r.fail(at, `the target must be an absolute path in the task, got ${JSON.stringify(target)}`);
    if (type === 'bind') source = path.resolve(dir, source.replace(/^~(?=\/|$)/, process.env.HOME ?? '~'));
    else if (type === 'volume' && source) source = named.get(source) ?? r.fail(at, `volume ${JSON.stringify(source)} is not defined under the top-level volumes:`);
    return { Type: type as Mount['Type'], ...(source ? { Source: source } : {}), Target: target, ...(readOnly ? { ReadOnly: true } : {}) };
  });
}

function resources(r: Reader, key: string, v: unknown): Pick<ServiceSpec['TaskTemplate'], 'Resources'> {
  if (v === undefined) return {};
  const o = r.map(key, v);
  r.keys(key, o, new Set(['limits', 'reservations']));
  const part = (k: 'limits' | 'reservations') => {
    const p = r.map(`${key}.${k}`, o[k]);
    r.keys(`${key}.${k}`, p, new Set(k === 'limits' ? ['cpus', 'memory', 'pids'] : ['cpus', 'memory']), new Set(['devices', 'generic_resources']));
    let cpus: number | undefined;
    if (p.cpus !== undefined) {
      try {
        cpus = parseCpus(r.str(`${key}.${k}.cpus`, p.cpus));
      } catch (err) {
        r.fail(`${key}.${k}.cpus`, (err as Error).message);
      }
    }
    return {
      ...(cpus !== undefined ? { NanoCPUs: cpus } : {}),
      ...(p.memory !== undefined ? { MemoryBytes: r.bytes(`${key}.${k}.memory`, p.memory) } : {}),
      ...(p.pids !== undefined ? { Pids: r.int(`${key}.${k}.pids`, p.pids, 1) } : {}),
    };
  };
  return { Resources: { ...(o.limits !== undefined ? { Limits: part('limits') } : {}), ...(o.reservations !== undefined ? { Reservations: part('reservations') } : {}) } };
}

function restartPolicy(r: Reader, key: string, v: unknown): RestartPolicy {
  const o = r.map(key, v);
  r.keys(key, o, new Set(['condition', 'delay', 'max_attempts', 'window']));
  const c = o.condition === undefined ? undefined : r.str(`${key}.condition`, o.condition);
  if (c !== undefined && !['none', 'on-failure', 'any'].includes(c)) r.fail(`${key}.condition`, `must be none, on-failure or any, got ${JSON.stringify(c)}`);
  return {
    ...(c ? { Condition: c as RestartPolicy['Condition'] } : {}),
    ...(o.delay !== undefined ? { Delay: r.duration(`${key}.delay`, o.delay) } : {}),
    ...(o.max_attempts !== undefined ? { MaxAttempts: r.int(`${key}.max_attempts`, o.max_attempts) } : {}),
    ...(o.window !== undefined ? { Window: r.duration(`${key}.window`, o.window) } : {}),
  };
}

function updateConfig(r: Reader, key: string, v: unknown): UpdateConfig {
  const o = r.map(key, v);
  r.keys(key, o, new Set(['parallelism', 'delay', 'failure_action', 'monitor', 'max_failure_ratio', 'order']));
  const fa = o.failure_action === undefined ? undefined : r.str(`${key}.failure_action`, o.failure_action);
  if (fa !== undefined && !['continue', 'pause', 'rollback'].includes(fa)) r.fail(`${key}.failure_action`, `must be continue, pause or rollback, got ${JSON.stringify(fa)}`);
  const order = o.order === undefined ? undefined : r.str(`${key}.order`, o.order);
  if (order !== undefined && order !== 'stop-first' && order !== 'start-first') r.fail(`${key}.order`, `must be stop-first or start-first, got ${JSON.stringify(order)}`);
  let ratio: number | undefined;
  if (o.max_failure_ratio !== undefined) {
    ratio = Number(o.max_failure_ratio);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) r.fail(`${key}.max_failure_ratio`, `must be a number from 0 to 1, got ${describe(o.max_failure_ratio)}`);
  }
  return {
    ...(o.parallelism !== undefined ? { Parallelism: r.int(`${key}.parallelism`, o.parallelism) } : {}),
    ...(o.delay !== undefined ? { Delay: r.duration(`${key}.delay`, o.delay) } : {}),
    ...(fa ? { FailureAction: fa as UpdateConfig['FailureAction'] } : {}),
    ...(o.monitor !== undefined ? { Monitor: r.duration(`${key}.monitor`, o.monitor) } : {}),
    ...(ratio !== undefined ? { MaxFailureRatio: ratio } : {}),
    ...(order ? { Order: order as UpdateConfig['Order'] } : {}),
  };
}

function placement(r: Reader, key: string, v: unknown): Pick<ServiceSpec['TaskTemplate'], 'Placement'> {
  if (v === undefined) return {};
  const o = r.map(key, v);
  r.keys(key, o, new Set(['constraints', 'preferences', 'max_replicas_per_node']));
  const constraints = r.list(`${key}.constraints`, o.constraints).map((c, i) => {
    const s = r.str(`${key}.constraints[${i}]`, c);
    // The model's grammar, the one the API and the placers use.
    try {
      parseConstraint(s);
    } catch {
      r.fail(`${key}.constraints[${i}]`, `must be KEY==VALUE or KEY!=VALUE (node.role==manager), got ${JSON.stringify(s)}`);
    }
    return s.trim();
  });
  const prefs = r.list(`${key}.preferences`, o.preferences).map((p, i) => {
    const m = r.map(`${key}.preferences[${i}]`, p);
    r.keys(`${key}.preferences[${i}]`, m, new Set(['spread']));
    return { Spread: { SpreadDescriptor: r.str(`${key}.preferences[${i}].spread`, m.spread) } };
  });
  return {
    Placement: {
      ...(constraints.length > 0 ? { Constraints: constraints } : {}),
      ...(prefs.length > 0 ? { Preferences: prefs } : {}),
      ...(o.max_replicas_per_node !== undefined ? { MaxReplicas: r.int(`${key}.max_replicas_per_node`, o.max_replicas_per_node, 1) } : {}),
    },
  };
}

function dependsOn(r: Reader, key: string, v: unknown, services: Obj): { key: string; healthy: boolean }[] {
  if (v === undefined) return [];
  const check = (name: string, at: string) => {
    if (!Object.prototype.hasOwnProperty.call(services, name)) r.fail(at, `service ${JSON.stringify(name)} is not defined in this file`);
    return name;
  };
  if (Array.isArray(v)) return v.map((x, i) => ({ key: check(r.str(`${key}[${i}]`, x), `${key}[${i}]`), healthy: false }));
  return Object.entries(r.map(key, v)).map(([name, c]) => {
    const o = r.map(`${key}.${name}`, c);
    r.keys(`${key}.${name}`, o, new Set(['condition']), new Set(['restart', 'required']));
    const cond = o.condition === undefined ? 'service_started' : r.str(`${key}.${name}.condition`, o.condition);
    if (!['service_started', 'service_healthy'].includes(cond)) r.fail(`${key}.${name}.condition`, `must be service_started or service_healthy (a swarm service never "completes"), got ${JSON.stringify(cond)}`);
    return { key: check(name, `${key}.${name}`), healthy: cond === 'service_healthy' };
  });
}

/** Dependencies first (a stable topological order); a cycle is an error naming it. */
function startOrder(r: Reader, services: PlannedService[]): PlannedService[] {
  const byKey = new Map(services.map((s) => [s.key, s]));
  const out: PlannedService[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (s: PlannedService, trail: string[]) => {
    if (state.get(s.key) === 'done') return;
    if (state.get(s.key) === 'visiting') r.fail(`services.${s.key}.depends_on`, `a dependency cycle: ${[...trail, s.key].join(' → ')}`);
    state.set(s.key, 'visiting');
    for (const d of s.dependsOn) visit(byKey.get(d.key)!, [...trail, s.key]);
    state.set(s.key, 'done');
    out.push(s);
  };
  for (const s of services) visit(s, []);
  return out;
}
