/** `shoal swarm update --rotate-gossip-key`: a new cluster gossip key (manager/membership/gossip-keys.ts). */
import type { Command } from 'commander';
import type { Cluster } from '../../model/index.js';
import { CliError } from '../errors.js';
import { clientFor } from '../host.js';
import { out, updateWithVersion } from './common.js';

export function registerSwarm(program: Command): void {
  const swarm = program.command('swarm').description('manage the cluster itself');
  swarm
    .command('update')
    .description('change cluster-wide settings')
    .option('--rotate-gossip-key', 'give the cluster a new gossip key; the old one is retired once every node sends with the new one')
    .action(async (o: { rotateGossipKey?: boolean }, cmd: Command) => {
      if (!o.rotateGossipKey) throw new CliError('nothing to update: give --rotate-gossip-key');
      const client = clientFor(cmd);
      await updateWithVersion(
        client,
        () => client.get<Cluster>('/swarm'),
        (cur) => client.post('/swarm/update', cur.Spec, { version: cur.Version.Index, rotateGossipKey: true }),
      );
      out('Gossip key rotated: every node now sends with the new key; the old one is retired once they all have.\n');
    });
}
