/** `shoal service …`: the group, and the read-only and removal commands (ls, ps, inspect, rm). */
import type { Command } from 'commander';
import type { Node, Task } from '../../model/index.js';
import { encodeFilters, type ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { prettyService, SERVICE_COLUMNS, serviceRow, type ListedService } from '../format/services.js';
import { renderInspect, renderList } from '../format/table.js';
import { TASK_COLUMNS, taskRows } from '../format/tasks.js';
import { clientFor } from '../host.js';
import { collect, enc, filterMap, getService, out } from './common.js';
import { registerServiceChanges } from './service-change.js';
import { registerServiceLogs } from './service-logs.js';

/** `service ps` and `stack ps`: the tasks of these services, as docker lists them (with --filter, -q, --format, --no-trunc). */
export async function taskList(client: ApiClient, serviceIds: string[], o: { quiet?: boolean; filter?: string[]; format?: string; trunc: boolean }): Promise<string> {
  const [tasks, nodes] = await Promise.all([client.get<Task[]>('/tasks', { filters: encodeFilters({ ...filterMap(o.filter), service: serviceIds }) }), client.get<Node[]>('/nodes')]);
  return renderList(taskRows(tasks, new Map(nodes.map((n) => [n.ID, n])), { noTrunc: !o.trunc }), TASK_COLUMNS, o);
}

export function registerService(program: Command): void {
  // Positional options let `service create IMAGE COMMAND -flags` hand the flags to the command, as docker does.
  const service = program.command('service').description('manage services').enablePositionalOptions();

  registerServiceChanges(service);

  service
    .command('ls')
    .alias('list')
    .description('list services')
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <key=value>', 'filter output (id, name, label, mode, runtime)', collect)
    .option('--format <format>', 'table, json, or a Go template ("{{.Name}}", "table {{.ID}}\\t{{.Name}}")')
    .option('--no-trunc', 'do not truncate output')
    .action(async (o: { quiet?: boolean; filter?: string[]; format?: string; trunc: boolean }, cmd: Command) => {
      const client = clientFor(cmd);
      const list = await client.get<ListedService[]>('/services', { status: true, filters: encodeFilters(filterMap(o.filter)) });
      list.sort((a, b) => a.Spec.Name.localeCompare(b.Spec.Name));
      out(renderList(list.map((s) => serviceRow(s, !o.trunc)), SERVICE_COLUMNS, o));
    });

  service
    .command('ps')
    .description('list the tasks of one or more services')
    .argument('<service...>', 'service name, ID or ID prefix')
    .option('-q, --quiet', 'only display task IDs')
    .option('-f, --filter <key=value>', 'filter output (id, name, node, desired-state)', collect)
    .option('--format <format>', 'table, json, or a Go template ("{{.Name}}", "table {{.ID}}\\t{{.Name}}")')
    .option('--no-trunc', 'do not truncate output')
    .action(async (refs: string[], o: { quiet?: boolean; filter?: string[]; format?: string; trunc: boolean }, cmd: Command) => {
      const client = clientFor(cmd);
      const services = await Promise.all(refs.map((r) => getService(client, r)));
      out(await taskList(client, services.map((s) => s.ID), o));
    });

  service
    .command('inspect')
    .description('display detailed information on one or more services')
    .argument('<service...>', 'service name, ID or ID prefix')
    .option('--pretty', 'print the information in a human friendly format')
    .option('--format <format>', 'json (one object per line), or a Go template ("{{.Spec.Name}}", "{{json .Spec}}")')
    .action(async (refs: string[], o: { pretty?: boolean; format?: string }, cmd: Command) => {
      const client = clientFor(cmd);
      const services = await Promise.all(refs.map((r) => getService(client, r)));
      out(o.pretty ? services.map(prettyService).join('\n') : renderInspect(services, o.format));
    });

  service
    .command('rm')
    .alias('remove')
    .description('remove one or more services')
    .argument('<service...>', 'service name, ID or ID prefix')
    .action(async (refs: string[], _o: unknown, cmd: Command) => {
      const client = clientFor(cmd);
      const failed: string[] = [];
      // Like docker: remove what can be removed, then report what could not.
      for (const ref of refs) {
        try {
          await client.delete(`/services/${enc(ref)}`);
          out(`${ref}\n`);
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          failed.push(err.message);
        }
      }
      if (failed.length > 0) throw new CliError(failed.join('; '));
    });

  registerServiceLogs(service);
}
