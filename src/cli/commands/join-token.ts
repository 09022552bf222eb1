/** `shoal join-token worker|manager [--rotate] [-q]`: docker's `swarm join-token`, printed as a `shoal join` command. */
import type { Command } from 'commander';
import type { Cluster } from '../../model/index.js';
import type { ApiClient } from '../client.js';
import { CliError } from '../errors.js';
import { clientFor } from '../host.js';
import { out, updateWithVersion } from './common.js';

/** The cluster address of the manager answering: where a new node should join. */
async function joinAddr(client: ApiClient): Promise<string> {
  const info = await client.get<{ Swarm?: { NodeID?: string; RemoteManagers?: { NodeID: string; Addr: string }[] | null } }>('/info');
  const managers = info.Swarm?.RemoteManagers ?? [];
  return (managers.find((m) => m.NodeID === info.Swarm?.NodeID) ?? managers[0])?.Addr ?? '<manager-address>:4242';
}

export function registerJoinToken(program: Command): void {
  program
    .command('join-token')
    .description('print (or rotate) the token and command that add a worker or a manager to the cluster')
    .argument('<role>', 'worker or manager')
    .option('--rotate', 'rotate the join token (nodes already joined are not affected)')
    .option('-q, --quiet', 'only display the token')
    .action(async (role: string, o: { rotate?: boolean; quiet?: boolean }, cmd: Command) => {
      if (role !== 'worker' && role !== 'manager') throw new CliError(`unknown role ${JSON.stringify(role)}: use worker or manager`);
      const client = clientFor(cmd);
      const key = role === 'worker' ? 'Worker' : 'Manager';
      if (o.rotate) {
        await updateWithVersion(
          client,
          () => client.get<Cluster>('/swarm'),
          (cur) => client.post('/swarm/update', cur.Spec, { version: cur.Version.Index, [role === 'worker' ? 'rotateWorkerToken' : 'rotateManagerToken']: true }),
        );
        if (!o.quiet) out(`Successfully rotated ${role} join token.\n\n`);
      }
      const cluster = await client.get<Cluster>('/swarm');
      const token = cluster.JoinTokens[key];
      if (o.quiet) return out(`${token}\n`);
      out(`To add a ${role} to this swarm, run the following command:\n\n    shoal join --token ${token} ${await joinAddr(client)}\n\n`);
    });
}
