/**
 * `shoal env`: shell exports pointing the shoal and docker CLIs at the local
 * cluster, like `docker-machine env` — `eval "$(npx shoal env)"`.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { DEFAULT_CLUSTER_DIR, nodeDataDir, readCluster } from '../local/cluster-file.js';
import { isNodeProcess } from '../local/processes.js';
import { out } from './common.js';

export function registerEnv(program: Command): void {
  program
    .command('env')
    .description('print the shell exports (SHOAL_HOST, DOCKER_HOST) for the local cluster: eval "$(npx shoal env)"')
    .option('--dir <dir>', 'the cluster directory', DEFAULT_CLUSTER_DIR)
    .option('-u, --unset', 'print the commands that unset them instead')
    .action((o: { dir: string; unset?: boolean }) => {
      if (o.unset) {
        out('unset SHOAL_HOST DOCKER_HOST\n# Run this command to configure your shell:\n# eval "$(npx shoal env -u)"\n');
        return;
      }
      const dir = path.resolve(o.dir);
      const c = readCluster(dir);
      const rd = path.relative(process.cwd(), dir) || '.';
      if (!c) throw new CliError(`no cluster in ${rd}: start one with \`shoal up\``);
      const managers = c.nodes.filter((n) => n.apiAddr);
      // The first manager still running; the first one recorded if none is (the user will see the error on use).
      const m = managers.find((n) => isNodeProcess(n.pid, nodeDataDir(dir, n))) ?? managers[0];
      if (!m) throw new CliError(`the cluster in ${rd} records no manager API address`);
      out(`export SHOAL_HOST=${m.apiAddr}\nexport DOCKER_HOST=tcp://${m.apiAddr}\n# Run this command to configure your shell:\n# eval "$(npx shoal env${o.dir === DEFAULT_CLUSTER_DIR ? '' : ` --dir ${o.dir}`})"\n`);
    });
}
