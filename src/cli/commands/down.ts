/**
 * `shoal down [--purge]`: stop every node process of the cluster `shoal up`
 * started and remove the network namespaces, veths and bridge it made for
 * them (recorded in cluster.json, so also after the nodes crashed; `shoal
 * up` makes them again); delete its data only with --purge.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { DEFAULT_CLUSTER_DIR, nodeDataDir, readCluster, writeCluster } from '../local/cluster-file.js';
import { netnsPids, netnsUnavailable, removeNetns, removeTaskNetns } from '../local/netns.js';
import { isNodeProcess, processesUnder, stopProcess } from '../local/processes.js';
import { parseDuration } from '../units.js';
import { releaseLeftovers } from '../../node/leftovers.js';
import { out } from './common.js';
import { flagValue } from './service-create-flags.js';

export function registerDown(program: Command): void {
  program
    .command('down')
    .description('stop the local cluster started by `shoal up`')
    .option('--purge', "also delete the cluster's data and logs")
    .option('--dir <dir>', 'the cluster directory', DEFAULT_CLUSTER_DIR)
    // 30 s: a node stops its tasks before it ends, and its task supervisor gives them up to 20 s to
    // die; one node with 300 oci tasks took 17 s on the 2-core reference machine, and at 10 s it was
    // killed half-way.
    .option('--grace <duration>', 'how long a node may take to stop (its tasks included) before it is killed', '30s')
    .action(async (o: { purge?: boolean; dir: string; grace: string }) => {
      const dir = path.resolve(o.dir);
      const rd = path.relative(process.cwd(), dir) || '.';
      const graceMs = flagValue('--grace', o.grace, parseDuration) / 1e6;
      const c = readCluster(dir);
      if (!c) throw new CliError(`no cluster in ${rd}: nothing to stop (\`shoal up\` starts one)`);
      if (c.netns) {
        const why = netnsUnavailable();
        if (why) throw new CliError(`the cluster in ${rd} runs its nodes in network namespaces, and removing them fails: ${why} (run \`shoal down\` as root)`);
      }
      // All at once: stopping one by one would make the rest elect, re-elect and reschedule for nothing.
      const results = await Promise.all(
        c.nodes.map(async (n) => {
          if (!isNodeProcess(n.pid, nodeDataDir(dir, n))) return `${n.name} was not running`;
          const pid = n.pid!;
          const how = await stopProcess(pid, graceMs);
          n.pid = null;
          return how === 'stopped' ? `Stopped ${n.name} (pid ${pid})` : `Killed ${n.name} (pid ${pid}): it did not stop within ${o.grace}`;
        }),
      );
      for (const n of c.nodes) n.pid = null;
      out(results.map((r) => `${r}\n`).join(''));
      if (c.netns) {
        // A node that crashed left its task supervisor (and through it its tasks) in its namespace.
        // Every node's at once: one after another, a cluster whose leftovers all hung took a grace each.
        const left = await Promise.all(
          c.nodes.map(async (n) => {
            const pids = await netnsPids(n);
            await Promise.all(pids.map((pid) => stopProcess(pid, graceMs)));
            return { n, pids };
          }),
        );
        for (const { n, pids } of left) {
          if (pids.length > 0) out(`Stopped ${pids.length} process${pids.length === 1 ? '' : 'es'} ${n.name} left in its namespace (pid ${pids.join(', ')})\n`);
        }
        const removed = [...(await removeTaskNetns(c.nodes.map((n) => nodeDataDir(dir, n)))), ...(await removeNetns(c))];
        out(removed.length > 0 ? `Removed ${removed.join(', ')}\n` : `No network namespace, veth or bridge of this cluster was left to remove\n`);
      }
      // A node's task supervisor ends just after its node (the node stops its tasks through it), and
      // one whose node was killed (it did not stop within the grace) is still stopping them: under load
      // it may still be writing its state. Deleting or releasing under it let it recreate part of the
      // tree (seen: .shoal back after "Removed .shoal").
      // Only Shoal's own processes unless the data goes too (then anything writing into it).
      const left = processesUnder(dir, { shoalOnly: !o.purge });
      if (left.length > 0) await Promise.all(left.map((pid) => stopProcess(pid, graceMs)));
      // What nodes that crashed, or were killed here, left outside their processes (overlay and secret
      // mounts, task cgroups, container state): down means nothing of the cluster runs or holds memory
      // any more, data kept or not. A node that stopped cleanly left nothing, and nothing is printed.
      const r = await releaseLeftovers(dir);
      const what = [
        r.cgroups > 0 ? `${r.cgroups} task cgroup${r.cgroups === 1 ? '' : 's'}` : '',
        r.containers > 0 ? `${r.containers} container state${r.containers === 1 ? '' : 's'}` : '',
        r.mounts > 0 ? `${r.mounts} mount${r.mounts === 1 ? '' : 's'} under ${rd}` : '',
        r.secrets.length > 0 ? `the secret and config mounts of ${r.secrets.length} node${r.secrets.length === 1 ? '' : 's'}` : '',
      ].filter(Boolean);
      if (what.length > 0) out(`Released ${what.join(', ')}\n`);
      if (o.purge) {
        try {
          rmSync(dir, { recursive: true, force: true });
        } catch (err) {
          throw new CliError(`cannot delete ${rd}: ${(err as Error).message.split('\n')[0]} (tasks of a crashed node may still hold it: \`shoal up\`, then \`shoal down --purge\`)`);
        }
        out(`Removed ${rd}\n`);
      } else {
        writeCluster(dir, c);
        out(`Data kept in ${rd}: \`shoal up\` restarts this cluster, \`shoal down --purge\` deletes it.\n`);
      }
    });
}
