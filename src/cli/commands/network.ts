/**
 * `shoal network create|ls|inspect|rm|prune` — docker's network commands
 * over the API. Only swarm-scoped overlays exist in a Shoal cluster, so
 * `-d` defaults to (and only accepts) `overlay`; the API refuses the rest
 * with a message naming the field, which is printed as the one error line.
 */
import type { Command } from 'commander';
import { encodeFilters } from '../client.js';
import { CliError } from '../errors.js';
import { renderInspect, renderList, shortId, type Columns } from '../format/table.js';
import { clientFor } from '../host.js';
import { collect, enc, filterMap, out } from './common.js';
import { parseLabel } from './service-create-flags.js';

interface Listed {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
}

const COLUMNS: Columns = [
  ['NETWORK ID', 'ID'],
  ['NAME', 'Name'],
  ['DRIVER', 'Driver'],
  ['SCOPE', 'Scope'],
];

interface CreateFlags {
  driver: string;
  subnet?: string[];
  gateway?: string[];
  attachable?: boolean;
  internal?: boolean;
  label?: string[];
}

/** The NetworkCreateRequest the flags ask for (docker's `network create` body). */
export function networkCreateBody(name: string, f: CreateFlags): Record<string, unknown> {
  if ((f.subnet?.length ?? 0) > 1) throw new CliError('--subnet: one subnet per network is supported');
  if ((f.gateway?.length ?? 0) > 1) throw new CliError('--gateway: one gateway per network is supported');
  const subnet = f.subnet?.[0];
  const gateway = f.gateway?.[0];
  if (gateway && !subnet) throw new CliError('--gateway needs --subnet');
  return {
    Name: name,
    Driver: f.driver,
    Attachable: f.attachable ?? false,
    Internal: f.internal ?? false,
    Labels: Object.fromEntries((f.label ?? []).map((l) => parseLabel(l))),
    ...(subnet ? { IPAM: { Driver: 'default', Config: [{ Subnet: subnet, ...(gateway ? { Gateway: gateway } : {}) }] } } : {}),
  };
}

export function registerNetwork(program: Command): void {
  const group = program.command('network').description('manage overlay networks (VXLAN, addresses allocated by the managers)');

  group
    .command('create')
    .description('create an overlay network')
    .argument('<name>', 'network name')
    .option('-d, --driver <driver>', 'network driver (only overlay)', 'overlay')
    .option('--subnet <cidr>', 'subnet in CIDR form, e.g. 10.20.0.0/24 (default: the next free /24 of 10.0.0.0/8)', collect)
    .option('--gateway <ip>', 'gateway of the subnet (default: its first address)', collect)
    .option('--attachable', 'allow standalone containers to attach (recorded; Shoal runs only service tasks)')
    .option('--internal', 'restrict external access to the network')
    .option('-l, --label <key=value>', 'network label (repeatable)', collect)
    .action(async (name: string, f: CreateFlags, cmd: Command) => {
      const res = await clientFor(cmd).post<{ Id: string }>('/networks/create', networkCreateBody(name, f));
      out(`${res.Id}\n`);
    });

  group
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('-q, --quiet', 'only display IDs')
    .option('--no-trunc', 'do not truncate the output')
    .option('-f, --filter <key=value>', 'filter output (driver, id, label, name, scope, type, dangling)', collect)
    .option('--format <format>', 'table, json, or a Go template ("{{.Name}}", "table {{.ID}}\\t{{.Name}}")')
    .action(async (o: { quiet?: boolean; trunc?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
      const list = await clientFor(cmd).get<Listed[]>('/networks', { filters: encodeFilters(filterMap(o.filter)) });
      list.sort((a, b) => a.Name.localeCompare(b.Name));
      const rows = list.map((n) => ({ ID: shortId(n.Id, o.trunc === false), Name: n.Name, Driver: n.Driver, Scope: n.Scope }));
      out(renderList(rows, COLUMNS, o));
    });

  group
    .command('inspect')
    .description('display detailed information on one or more networks')
    .argument('<network...>', 'network name, ID or ID prefix')
    .option('--format <format>', 'json (one object per line), or a Go template ("{{.Spec.Name}}", "{{json .Spec}}")')
    .action(async (refs: string[], o: { format?: string }, cmd: Command) => {
      const client = clientFor(cmd);
      out(renderInspect(await Promise.all(refs.map((r) => client.get(`/networks/${enc(r)}`))), o.format));
    });

  group
    .command('rm')
    .alias('remove')
    .description('remove one or more networks')
    .argument('<network...>', 'network name, ID or ID prefix')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const client = clientFor(cmd);
      const failed: string[] = [];
      // Like docker: remove what can be removed, then report what could not, on one line.
      for (const ref of refs) {
        try {
          await client.delete(`/networks/${enc(ref)}`);
          out(`${ref}\n`);
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          failed.push(err.message);
        }
      }
      if (failed.length > 0) throw new CliError(failed.join('; '));
    });

  group
    .command('prune')
    .description('remove every network no service uses (never ingress)')
    .option('-f, --force', 'do not prompt for confirmation (shoal never prompts)')
    .option('--filter <key=value>', 'filter (label, label!, until)', collect)
    .action(async (o: { filter?: string[] }, cmd: Command) => {
      const res = await clientFor(cmd).post<{ NetworksDeleted?: string[] | null }>('/networks/prune', undefined, { filters: encodeFilters(filterMap(o.filter)) });
      const gone = res.NetworksDeleted ?? [];
      if (gone.length > 0) out(`Deleted Networks:\n${gone.map((n) => `${n}\n`).join('')}`);
    });
}
