/** `shoal node ls|inspect|update|promote|demote|rm|logs` — docker's node commands over the API. */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { Node, NodeSpec } from '../../model/index.js';
import type { ApiClient } from '../client.js';
import { encodeFilters } from '../client.js';
import { CliError } from '../errors.js';
import { NODE_COLUMNS, nodeRow, prettyNode, sortNodes } from '../format/nodes.js';
import { renderInspect, renderList } from '../format/table.js';
import { clientFor } from '../host.js';
import { collect, filterMap, out, updateWithVersion } from './common.js';
import { parseLabel } from './service-create-flags.js';
import { registerNodeLogs } from './node-logs.js';

const enc = encodeURIComponent;

async function selfId(client: ApiClient): Promise<string | undefined> {
  const info = await client.get<{ Swarm?: { NodeID?: string } }>('/info').catch(() => undefined);
  return info?.Swarm?.NodeID;
}

/** Changes a node's spec with `?version=N`, re-reading on a concurrent change. */
async function updateNode(client: ApiClient, ref: string, change: (spec: NodeSpec) => NodeSpec): Promise<Node> {
  return updateWithVersion(
    client,
    () => client.get<Node>(`/nodes/${enc(ref)}`),
    (cur) => client.post(`/nodes/${cur.ID}/update`, change(structuredClone(cur.Spec)), { version: cur.Version.Index }),
  );
}

export function registerNode(program: Command): void {
  const node = program.command('node').description('manage the nodes of the cluster');
  registerNodeLogs(node);

  node
    .command('ls')
    .alias('list')
    .description('list nodes')
    .option('-q, --quiet', 'only display IDs')
    .option('-f, --filter <key=value>', 'filter output (id, name, role, label, node.label)', collect)
    .option('--format <format>', 'table, json, or a Go template ("{{.Name}}", "table {{.ID}}\\t{{.Name}}")')
    .action(async (o: { quiet?: boolean; filter?: string[]; format?: string }, cmd: Command) => {
      const client = clientFor(cmd);
      const [nodes, self] = await Promise.all([client.get<Node[]>('/nodes', { filters: encodeFilters(filterMap(o.filter)) }), selfId(client)]);
      out(renderList(sortNodes(nodes).map((n) => nodeRow(n, self)), NODE_COLUMNS, o));
    });

  node
    .command('inspect')
    .description('display detailed information on one or more nodes')
    .argument('<node...>', 'node ID, ID prefix or hostname ("self" for the manager answering)')
    .option('--pretty', 'print the information in a human friendly format')
    .option('--format <format>', 'json (one object per line), or a Go template ("{{.Spec.Name}}", "{{json .Spec}}")')
    .action(async (refs: string[], o: { pretty?: boolean; format?: string }, cmd: Command) => {
      const client = clientFor(cmd);
      const nodes = await Promise.all(refs.map((r) => client.get<Node>(`/nodes/${enc(r)}`)));
      out(o.pretty ? nodes.map(prettyNode).join('\n') : renderInspect(nodes, o.format));
    });

  node
    .command('update')
    .description("update a node's availability, labels or role")
    .argument('<node>', 'node ID, ID prefix or hostname')
    .addOption(new Option('--availability <availability>', 'availability of the node').choices(['active', 'pause', 'drain']))
    .addOption(new Option('--role <role>', 'role of the node').choices(['worker', 'manager']))
    .option('--label-add <key=value>', 'add or update a node label (repeatable)', collect)
    .option('--label-rm <key>', 'remove a node label (repeatable)', collect)
    .action(async (ref: string, o: { availability?: NodeSpec['Availability']; role?: NodeSpec['Role']; labelAdd?: string[]; labelRm?: string[] }, cmd: Command) => {
      if (!o.availability && !o.role && !o.labelAdd && !o.labelRm) throw new CliError('node update needs at least one of --availability, --role, --label-add, --label-rm');
      const adds = (o.labelAdd ?? []).map((l) => parseLabel(l));
      await updateNode(clientFor(cmd), ref, (spec) => {
        const labels = { ...spec.Labels };
        for (const k of o.labelRm ?? []) {
          if (!(k in labels)) throw new CliError(`node ${ref} has no label ${JSON.stringify(k)} to remove`);
          delete labels[k];
        }
        for (const [k, v] of adds) labels[k] = v;
        return { ...spec, Labels: labels, ...(o.availability ? { Availability: o.availability } : {}), ...(o.role ? { Role: o.role } : {}) };
      });
      out(`${ref}\n`);
    });

  for (const [name, role, verb] of [
    ['promote', 'manager', 'promote one or more nodes to manager'],
    ['demote', 'worker', 'demote one or more managers to worker'],
  ] as const) {
    node
      .command(name)
      .description(verb)
      .argument('<node...>', 'node ID, ID prefix or hostname')
      .action(async (refs: string[], _o: unknown, cmd: Command) => {
        const client = clientFor(cmd);
        for (const ref of refs) {
          const cur = await client.get<Node>(`/nodes/${enc(ref)}`);
          if (cur.Spec.Role === role) {
            out(role === 'manager' ? `Node ${ref} is already a manager.\n` : `Node ${ref} is already a worker.\n`);
            continue;
          }
          await updateNode(client, ref, (spec) => ({ ...spec, Role: role }));
          out(role === 'manager' ? `Node ${ref} promoted to a manager in the swarm.\n` : `Manager ${ref} demoted in the swarm.\n`);
        }
      });
  }

  node
    .command('rm')
    .alias('remove')
    .description('remove one or more nodes from the cluster')
    .argument('<node...>', 'node ID, ID prefix or hostname')
    .option('-f, --force', 'force-remove a node that is still up')
    .action(async (refs: string[], o: { force?: boolean }, cmd: Command) => {
      const client = clientFor(cmd);
      for (const ref of refs) {
        await client.delete(`/nodes/${enc(ref)}`, { force: o.force ? true : undefined });
        out(`${ref}\n`);
      }
    });
}
