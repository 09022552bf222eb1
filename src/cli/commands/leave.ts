/**
 * `shoal leave [NODE] [--data-dir DIR] [--force]`: this node leaves the
 * cluster — its process stops and its data dir (its identity) is deleted,
 * so it can never come back as the same node. A node of `shoal up` is
 * stopped here; a foreground node (`shoal init|join|run`) must be stopped
 * with Ctrl-C first, and the command says so. Leaving a manager needs
 * --force, with docker's warning: removing the last manager erases the
 * cluster, and each manager gone weakens the quorum.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Node } from '../../model/index.js';
import { loadIdentity, type NodeIdentity } from '../../node/state.js';
import { CliError } from '../errors.js';
import { removeNetns } from '../local/netns.js';
import { DEFAULT_CLUSTER_DIR, nodeDataDir, readCluster, writeCluster, type LocalCluster, type LocalNode } from '../local/cluster-file.js';
import { isNodeProcess, stopProcess } from '../local/processes.js';
import { listening, localClient, quickClient } from '../local/readiness.js';
import { out } from './common.js';

/** The same default as `shoal init|join|run --data-dir`. */
import { defaultDataDir } from '../host.js';
import { apiSocketPath } from '../../node/api-socket-path.js';

interface LeaveFlags {
  dataDir?: string;
  dir: string;
  force?: boolean;
}

/** How many managers the cluster has, asked of any manager we know; the identity's list when none answers. */
async function managerCount(id: NodeIdentity, dataDir: string, dir: string, local: LocalCluster | null): Promise<number> {
  // The node's own socket first (it is a manager, perhaps still running), then the local cluster's other managers.
  const clients = [quickClient(`unix://${apiSocketPath(dataDir)}`), ...(local?.nodes.filter((n) => n.apiAddr).map((n) => localClient(dir, local, n.apiAddr!)) ?? [])];
  for (const client of clients) {
    const nodes = await client
      ?.get<Node[]>('/nodes')
      .catch(() => undefined);
    if (nodes) return nodes.filter((n) => n.Spec.Role === 'manager').length;
  }
  return id.managers.length;
}

export function registerLeave(program: Command): void {
  program
    .command('leave')
    .description('make a node leave the cluster: stop it and delete its data dir')
    .argument('[node]', 'a node of the local cluster (`shoal up`) by name, e.g. worker2')
    .option('--data-dir <dir>', 'the data dir of the node that leaves (default: $SHOAL_DATA_DIR or ~/.shoal/node)')
    .option('--dir <dir>', 'the local cluster directory', DEFAULT_CLUSTER_DIR)
    .option('-f, --force', 'leave even though the node is a manager')
    .action(async (name: string | undefined, o: LeaveFlags) => {
      const dir = path.resolve(o.dir);
      const local = readCluster(dir);
      let entry: LocalNode | undefined;
      let dataDir: string;
      if (name) {
        entry = local?.nodes.find((n) => n.name === name);
        if (!entry) throw new CliError(`no node ${JSON.stringify(name)} in the local cluster of ${path.relative(process.cwd(), dir) || '.'}${local ? ` (nodes: ${local.nodes.map((n) => n.name).join(', ')})` : ''}`);
        dataDir = nodeDataDir(dir, entry);
      } else {
        dataDir = path.resolve(o.dataDir ?? defaultDataDir());
        entry = local?.nodes.find((n) => path.resolve(nodeDataDir(dir, n)) === dataDir);
      }
      let id: NodeIdentity | null;
      try {
        id = loadIdentity(dataDir);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      if (!id) throw new CliError(`${dataDir} holds no node: nothing to leave`);
      const label = entry?.name ?? id.hostname;

      const total = id.role === 'manager' ? await managerCount(id, dataDir, dir, local) : 0;
      if (id.role === 'manager' && !o.force) {
        const why =
          total <= 1
            ? 'removing the last manager erases the cluster'
            : `leaving makes the cluster run on ${total - 1} of ${total} managers (a quorum is ${Math.floor(total / 2) + 1}); demote it first (shoal node demote ${label})`;
        throw new CliError(`${label} is a manager: ${why}; use --force to leave anyway`);
      }

      const running = entry && isNodeProcess(entry.pid, dataDir);
      if (running) {
        await stopProcess(entry!.pid!, 10_000);
      } else if (await listening(id.advertiseAddr)) {
        throw new CliError(
          `${label} still runs (something answers at ${id.advertiseAddr}) and was not started by \`shoal up\` here: stop it with Ctrl-C where \`shoal init/join/run\` runs, then run this again to remove ${dataDir}`,
        );
      }
      rmSync(dataDir, { recursive: true, force: true });
      if (local?.netns && entry?.netns) await removeNetns(local, [entry], false);
      if (local && entry) {
        local.nodes = local.nodes.filter((n) => n !== entry);
        rmSync(path.dirname(dataDir), { recursive: true, force: true });
        writeCluster(dir, local);
      }
      out(`Node ${label} left the swarm.\n`);
      if (id.role === 'manager' && total <= 1) out('It was the last manager: that cluster is gone.\n');
      else out(`It shows as Down in \`shoal node ls\` until a manager removes it: shoal node ${id.role === 'manager' ? `demote ${id.nodeId.slice(0, 12)} && shoal node rm` : 'rm'} ${id.nodeId.slice(0, 12)}\n`);
    });
}
