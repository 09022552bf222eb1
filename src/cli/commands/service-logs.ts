/**
 * `shoal service logs SERVICE`: GET /services/{id}/logs, decoded from
 * docker's stream format, each line prefixed with its task as docker does
 * (`web.1.<task>@<node>    | …`).
 */
import type { Command } from 'commander';
import type { Node, Task } from '../../model/index.js';
import { encodeFilters } from '../client.js';
import { CliError } from '../errors.js';
import { hostnameOf } from '../format/nodes.js';
import { clientFor } from '../host.js';
import { Demuxer, kindFromContentType, LinePrefixer } from '../logs/demux.js';
import { getService } from './common.js';

interface LogFlags {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
  since?: string;
  prefix: boolean;
  trunc: boolean;
}

export function registerServiceLogs(service: Command): void {
  service
    .command('logs')
    .description('fetch the logs of a service')
    .argument('<service>', 'service name, ID or ID prefix')
    .option('-f, --follow', 'follow log output')
    .option('-n, --tail <n>', 'number of lines to show from the end of the logs ("all" for all)', 'all')
    .option('-t, --timestamps', 'show timestamps')
    .option('--since <timestamp>', 'show logs since a timestamp (e.g. 2024-01-02T13:23:37Z) or relative (e.g. 42m)')
    .option('--no-task-ids', 'do not include task IDs in the prefix')
    .option('--no-prefix', 'do not print the task prefix')
    .option('--no-trunc', 'do not truncate output')
    .action(async (ref: string, f: LogFlags & { taskIds: boolean }, cmd: Command) => {
      if (f.tail !== 'all' && !/^\d+$/.test(f.tail ?? '')) throw new CliError(`invalid value for --tail: ${JSON.stringify(f.tail)} (a number of lines or "all")`);
      const client = clientFor(cmd);
      const svc = await getService(client, ref);
      const res = await client.stream(`/services/${svc.ID}/logs`, {
        stdout: true,
        stderr: true,
        details: true,
        follow: f.follow ? true : undefined,
        tail: f.tail,
        timestamps: f.timestamps ? true : undefined,
        since: f.since,
      });
      // Task and node names for the prefixes, read once the stream is open (follow may run for long).
      const [tasks, nodes] = await Promise.all([
        client.get<Task[]>('/tasks', { filters: encodeFilters({ service: [svc.ID] }) }).catch(() => [] as Task[]),
        client.get<Node[]>('/nodes').catch(() => [] as Node[]),
      ]);
      const taskById = new Map(tasks.map((t) => [t.ID, t]));
      const nodeById = new Map(nodes.map((n) => [n.ID, n]));
      const name = (a: Record<string, string>): string | undefined => {
        if (!f.prefix) return undefined;
        const taskId = a['com.docker.swarm.task.id'] ?? '';
        const t = taskById.get(taskId);
        const node = nodeById.get(a['com.docker.swarm.node.id'] ?? t?.NodeID ?? '');
        const base = t?.Name ?? a['com.docker.swarm.task.name'] ?? svc.Spec.Name;
        const id = f.taskIds ? `.${f.trunc ? taskId.slice(0, 12) : taskId}` : '';
        return `${base}${id}@${node ? hostnameOf(node) : (a['com.docker.swarm.node.id'] ?? '?')}`;
      };
      const lines = new LinePrefixer(name, (stream, line) => (stream === 'stderr' ? process.stderr : process.stdout).write(line));
      const kind = kindFromContentType(res.headers['content-type']) ?? (svc.Spec.TaskTemplate.ContainerSpec?.TTY ? 'raw' : undefined);
      const demux = new Demuxer(kind, (s, d) => lines.push(s, d));
      await new Promise<void>((resolve, reject) => {
        res.on('data', (c: Buffer) => demux.push(c));
        res.on('end', () => resolve());
        res.on('error', reject);
        // Ctrl-C while following: stop cleanly, with what was read printed.
        process.once('SIGINT', () => {
          res.destroy();
          resolve();
        });
      });
      demux.end();
      lines.end();
    });
}
