/**
 * `shoal env`: shell exports pointing the shoal and docker CLIs at the local
 * cluster, like `docker-machine env` — `eval "$(npx shoal env)"`: its first
 * running manager's TLS address with the cluster's admin bundle
 * (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), or with --unix its socket.
 */
import path from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { DEFAULT_CLUSTER_DIR, localAdminDir, nodeApiSocket, readCluster } from '../local/cluster-file.js';
import { firstRunning } from '../local/processes.js';
import { out } from './common.js';

const VARS = ['SHOAL_HOST', 'SHOAL_CERT_PATH', 'DOCKER_HOST', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH'];

export function registerEnv(program: Command): void {
  program
    .command('env')
    .description('print the shell exports (SHOAL_HOST, DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) for the local cluster: eval "$(npx shoal env)"')
    .option('--dir <dir>', 'the cluster directory', DEFAULT_CLUSTER_DIR)
    .option('--unix', "point at the first running manager's unix socket instead of its TLS address")
    .option('-u, --unset', 'print the commands that unset them instead')
    .action((o: { dir: string; unix?: boolean; unset?: boolean }) => {
      if (o.unset) {
        out(`unset ${VARS.join(' ')}\n# Run this command to configure your shell:\n# eval "$(npx shoal env -u)"\n`);
        return;
      }
      const dir = path.resolve(o.dir);
      const c = readCluster(dir);
      const rd = path.relative(process.cwd(), dir) || '.';
      if (!c) throw new CliError(`no cluster in ${rd}: start one with \`shoal up\``);
      const managers = c.nodes.filter((n) => n.apiAddr);
      // The first manager still running; the first one recorded if none is (the user will see the error on use).
      const m = firstRunning(dir, managers);
      if (!m) throw new CliError(`the cluster in ${rd} records no manager API address`);
      const again = `# Run this command to configure your shell:\n# eval "$(npx shoal env${o.dir === DEFAULT_CLUSTER_DIR ? '' : ` --dir ${o.dir}`}${o.unix ? ' --unix' : ''})"\n`;
      if (o.unix) {
        const sock = `unix://${nodeApiSocket(dir, m)}`;
        out(`export SHOAL_HOST=${sock}\nexport DOCKER_HOST=${sock}\nunset SHOAL_CERT_PATH DOCKER_TLS_VERIFY DOCKER_CERT_PATH\n${again}`);
        return;
      }
      const certs = localAdminDir(dir, c);
      out(
        `export SHOAL_HOST=tcp://${m.apiAddr}\nexport SHOAL_CERT_PATH=${certs}\n` +
          `export DOCKER_HOST=tcp://${m.apiAddr}\nexport DOCKER_TLS_VERIFY=1\nexport DOCKER_CERT_PATH=${certs}\n${again}`,
      );
    });
}
