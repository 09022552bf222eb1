/**
 * `shoal stack deploy -c FILE [-c FILE…] NAME`, `stack ls`, `stack services
 * NAME`, `stack ps NAME`, `stack rm NAME…`: compose stacks over the API, as
 * `docker stack` makes them (labels, names, the default network), so either
 * CLI manages a stack the other deployed.
 *
 * Deploy checks the whole file first (stack/plan.ts): a bad file changes
 * nothing. Then networks, secrets and configs that are missing are created,
 * and services are created, or updated only when their spec changed (an
 * unchanged redeploy sends nothing and restarts nothing), dependencies first
 * (`depends_on`; with `condition: service_healthy` the dependent is created
 * only once its dependencies run healthy — Swarm ignores depends_on).
 */
import { createHash } from 'node:crypto';
import type { Command } from 'commander';
import type { Secret, Service, ServiceSpec } from '../../model/index.js';
import type { ApiClient } from '../client.js';
import { encodeFilters } from '../client.js';
import { CliError } from '../errors.js';
import { renderList, type Columns } from '../format/table.js';
import { SERVICE_COLUMNS, serviceRow, type ListedService } from '../format/services.js';
import { clientFor } from '../host.js';
import { waitForConvergence } from '../progress/converge.js';
import { planStack, STACK_LABEL, type PlannedService, type StackPlan } from '../stack/plan.js';
import { ComposeError, readCompose } from '../stack/source.js';
import { parseDuration } from '../units.js';
import { collect, out, warn } from './common.js';
import { taskList } from './service.js';
import { flagValue } from './service-create-flags.js';

/** Shoal's record of what a stack deploy sent: an unchanged service is not updated again. */
const SPEC_HASH_LABEL = 'com.shoal.stack.spec-hash';

/** A network as GET /networks lists it (Engine API shape). */
interface Network {
  Id: string;
  Name: string;
}

const label = (stack: string) => encodeFilters({ label: [`${STACK_LABEL}=${stack}`] });

function specHash(spec: ServiceSpec): string {
  return createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 32);
}

interface DeployFlags {
  composeFile?: string[];
  prune?: boolean;
  detach?: boolean;
  timeout: string;
  resolveImage?: string;
  withRegistryAuth?: boolean;
}

async function deploy(client: ApiClient, plan: StackPlan, f: DeployFlags): Promise<void> {
  const timeoutMs = flagValue('--timeout', f.timeout, parseDuration) / 1e6;
  // ---- networks, secrets, configs: make what is missing; an external one must exist
  for (const n of plan.networks) {
    const found = (await client.get<Network[]>('/networks', { filters: encodeFilters({ name: [n.name] }) })).some((x) => x.Name === n.name);
    if (found) continue;
    if (n.external) throw new CliError(`network ${n.name} is declared as external, but could not be found: create it first (shoal network create -d overlay ${n.name})`);
    out(`Creating network ${n.name}\n`);
    await client.post('/networks/create', n.body);
  }
  for (const [kind, items] of [['secret', plan.secrets], ['config', plan.configs]] as const) {
    for (const d of items) {
      const found = (await client.get<Secret[]>(`/${kind}s`, { filters: encodeFilters({ name: [d.name] }) })).some((x) => x.Spec.Name === d.name);
      if (found) continue;
      if (d.external) throw new CliError(`${kind} ${d.name} is declared as external, but could not be found: create it first (shoal ${kind} create ${d.name} FILE)`);
      out(`Creating ${kind} ${d.name}\n`);
      await client.post(`/${kind}s/create`, { Name: d.name, Labels: d.labels, Data: d.data!.toString('base64') });
    }
  }
  // ---- services, dependencies first
  const existing = new Map((await client.get<Service[]>('/services', { filters: label(plan.stack) })).map((s) => [s.Spec.Name, s]));
  const waited = new Set<string>();
  const idOf = new Map<string, string>();
  const wait = async (s: PlannedService) => {
    if (waited.has(s.key)) return;
    waited.add(s.key);
    out(`Waiting for ${s.spec.Name}\n`);
    await waitForConvergence(client, { serviceId: idOf.get(s.key)!, upToDateOnly: true, timeoutMs, out: process.stdout });
  };
  const byKey = new Map(plan.services.map((s) => [s.key, s]));
  for (const s of plan.services) {
    for (const d of s.dependsOn) if (d.healthy) await wait(byKey.get(d.key)!);
    const hash = specHash(s.spec);
    const spec: ServiceSpec = { ...s.spec, Labels: { ...s.spec.Labels, [SPEC_HASH_LABEL]: hash } };
    const cur = existing.get(s.spec.Name);
    if (!cur) {
      out(`Creating service ${s.spec.Name}\n`);
      const r = await client.post<{ ID: string; Warnings?: string[] | null }>('/services/create', spec);
      for (const w of r.Warnings ?? []) warn(`warning: ${w}\n`);
      idOf.set(s.key, r.ID);
    } else {
      idOf.set(s.key, cur.ID);
      if (cur.Spec.Labels?.[SPEC_HASH_LABEL] === hash) continue;
      out(`Updating service ${s.spec.Name} (id: ${cur.ID})\n`);
      const r = await client.post<{ Warnings?: string[] | null }>(`/services/${cur.ID}/update`, spec, { version: cur.Version.Index });
      for (const w of r?.Warnings ?? []) warn(`warning: ${w}\n`);
    }
  }
  if (f.prune) {
    const wanted = new Set(plan.services.map((s) => s.spec.Name));
    for (const [name, s] of existing) {
      if (wanted.has(name)) continue;
      out(`Removing service ${name}\n`);
      await client.delete(`/services/${s.ID}`);
    }
  }
  if (!f.detach) for (const s of plan.services) await wait(s);
}

async function stackServices(client: ApiClient, stack: string): Promise<ListedService[]> {
  return client.get<ListedService[]>('/services', { status: true, filters: label(stack) });
}

async function remove(client: ApiClient, stack: string): Promise<boolean> {
  const services = await stackServices(client, stack);
  const networks = await client.get<Network[]>('/networks', { filters: label(stack) });
  const secrets = await client.get<Secret[]>('/secrets', { filters: label(stack) });
  const configs = await client.get<Secret[]>('/configs', { filters: label(stack) });
  if (services.length + networks.length + secrets.length + configs.length === 0) return false;
  for (const s of services.sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name))) {
    out(`Removing service ${s.Spec.Name}\n`);
    await client.delete(`/services/${s.ID}`);
  }
  for (const c of configs) {
    out(`Removing config ${c.Spec.Name}\n`);
    await client.delete(`/configs/${c.ID}`);
  }
  for (const s of secrets) {
    out(`Removing secret ${s.Spec.Name}\n`);
    await client.delete(`/secrets/${s.ID}`);
  }
  for (const n of networks) {
    out(`Removing network ${n.Name}\n`);
    // A network is busy until its tasks are gone: retry for a while, as the services shut down.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await client.delete(`/networks/${n.Id}`);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
  return true;
}

const STACK_COLUMNS: Columns = [
  ['NAME', 'Name'],
  ['SERVICES', 'Services'],
];

export function registerStack(program: Command): void {
  const stack = program.command('stack').description('manage compose stacks (docker stack)');

  stack
    .command('deploy')
    .alias('up')
    .description('deploy a new stack or update an existing one from compose files')
    .argument('<stack>', 'stack name')
    .option('-c, --compose-file <file>', 'compose file (repeatable: later files override earlier ones)', collect)
    .option('--prune', 'remove services of the stack that the files no longer define')
    .option('-d, --detach', 'do not wait for the services to converge')
    .option('--timeout <duration>', 'how long to wait for each service to converge', '2m')
    .option('--resolve-image <mode>', 'always, changed or never (images are not resolved against a registry here; accepted for docker compatibility)', 'always')
    .option('--with-registry-auth', 'refused: Shoal nodes pull with their own login (`docker login REGISTRY` on each node); the client’s credentials are not sent')
    .action(async (name: string, f: DeployFlags, cmd: Command) => {
      if (!['always', 'changed', 'never'].includes(f.resolveImage ?? 'always')) throw new CliError(`--resolve-image must be always, changed or never, got ${JSON.stringify(f.resolveImage)}`);
      if (f.withRegistryAuth) throw new CliError('--with-registry-auth is not supported: Shoal nodes pull with their own registry login (run `docker login REGISTRY` on each node, or put its auths in $DOCKER_CONFIG/config.json); drop the flag');
      let plan: StackPlan;
      try {
        plan = planStack(name, readCompose(f.composeFile ?? []));
      } catch (err) {
        if (err instanceof ComposeError) throw new CliError(err.message);
        throw err;
      }
      if (plan.ignored.length > 0) warn(`Ignoring unsupported options: ${plan.ignored.join(', ')}\n`);
      await deploy(clientFor(cmd), plan, f);
    });

  stack
    .command('ls')
    .alias('list')
    .description('list stacks')
    .option('--format <format>', 'table, json, or a Go template ("{{.Name}}")')
    .action(async (o: { format?: string }, cmd: Command) => {
      const services = await clientFor(cmd).get<Service[]>('/services', { filters: encodeFilters({ label: [STACK_LABEL] }) });
      const counts = new Map<string, number>();
      for (const s of services) {
        const st = s.Spec.Labels?.[STACK_LABEL];
        if (st) counts.set(st, (counts.get(st) ?? 0) + 1);
      }
      const rows = [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([Name, Services]) => ({ Name, Services }));
      out(renderList(rows, STACK_COLUMNS, o, 'Name'));
    });

  stack
    .command('services')
    .description('list the services of a stack')
    .argument('<stack>', 'stack name')
    .option('-q, --quiet', 'only display IDs')
    .option('--format <format>', 'table, json, or a Go template')
    .action(async (name: string, o: { quiet?: boolean; format?: string }, cmd: Command) => {
      const list = await stackServices(clientFor(cmd), name);
      if (list.length === 0) throw new CliError(`Nothing found in stack: ${name}`);
      list.sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name));
      out(renderList(list.map((s) => serviceRow(s)), SERVICE_COLUMNS, o));
    });

  stack
    .command('ps')
    .description('list the tasks of a stack')
    .argument('<stack>', 'stack name')
    .option('-q, --quiet', 'only display task IDs')
    .option('-f, --filter <key=value>', 'filter output (id, name, node, desired-state)', collect)
    .option('--format <format>', 'table, json, or a Go template')
    .option('--no-trunc', 'do not truncate output')
    .action(async (name: string, o: { quiet?: boolean; filter?: string[]; format?: string; trunc: boolean }, cmd: Command) => {
      const client = clientFor(cmd);
      const services = await stackServices(client, name);
      if (services.length === 0) throw new CliError(`Nothing found in stack: ${name}`);
      out(await taskList(client, services.map((s) => s.ID), o));
    });

  stack
    .command('rm')
    .alias('remove')
    .description('remove one or more stacks: their services, networks, secrets and configs')
    .argument('<stack...>', 'stack names')
    .action(async (names: string[], _o: unknown, cmd: Command) => {
      const client = clientFor(cmd);
      const missing: string[] = [];
      for (const n of names) if (!(await remove(client, n))) missing.push(n);
      if (missing.length === names.length) throw new CliError(`Nothing found in stack${names.length > 1 ? 's' : ''}: ${names.join(', ')}`);
      for (const n of missing) warn(`Nothing found in stack: ${n}\n`);
    });
}
