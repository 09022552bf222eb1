import path from 'node:path';
import type { Command } from 'commander';
import { ImageStore } from '../../worker/runtime/images/store.js';
import { RuntimeError } from '../../worker/runtime/interface.js';
import { CliError } from '../errors.js';

/**
 * `shoal image import NAME FILE` and `shoal image ls`: the node-local image
 * store the oci runtime runs from (<data-dir>/images). An import takes a
 * rootfs tarball, an OCI image layout (directory or tar) or a `docker save`
 * archive; one node's import serves the cluster (the other nodes fetch its
 * layers when a task needs it). Images whose name gives a registry are
 * pulled by the nodes themselves.
 */

import { defaultDataDir } from '../host.js';
import { DEFAULT_CLUSTER_DIR, nodeDataDir, readCluster } from '../local/cluster-file.js';
import { firstRunning } from '../local/processes.js';

function store(dataDir: string): ImageStore {
  return new ImageStore(path.join(dataDir, 'images'));
}

/**
 * Whose image store a command uses, in the order the API commands pick
 * their manager (host.ts): --data-dir, else the first running node of the
 * cluster `shoal up` recorded in ./.shoal (one node's import serves them
 * all), else $SHOAL_DATA_DIR or ~/.shoal/node (`shoal init`'s). An import
 * after `shoal up` used to land in ~/.shoal/node, where no node of that
 * cluster looked, and the tasks were rejected for want of the image.
 */
export function imageDataDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): { dataDir: string; node?: string } {
  if (flag) return { dataDir: flag };
  const dir = path.join(cwd, DEFAULT_CLUSTER_DIR);
  const local = readCluster(dir);
  const n = local && firstRunning(dir, local.nodes);
  if (n) return { dataDir: nodeDataDir(dir, n), node: n.name };
  return { dataDir: defaultDataDir(env) };
}

/** Docker-style sizes: 1000-based, three significant digits ("4.26MB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toPrecision(3).replace(/\.?0+$/, '')}${units[i]}`;
}

/** "5 seconds ago", "3 minutes ago", … as `docker image ls` prints. */
export function humanAgo(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const steps: [number, string][] = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [7, 'day'],
    [4.35, 'week'],
    [12, 'month'],
    [Infinity, 'year'],
  ];
  let v = s;
  for (const [n, unit] of steps) {
    if (v < n) {
      const k = Math.floor(v);
      return k <= 1 && unit === 'second' ? 'Less than a second ago' : `${k} ${unit}${k === 1 ? '' : 's'} ago`;
    }
    v /= n;
  }
  return 'a long time ago';
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]! + 3))).join('').trimEnd()).join('\n') + '\n';
}

function cliError(err: unknown): never {
  if (err instanceof RuntimeError) throw new CliError(err.message);
  throw err;
}

export function registerImage(program: Command): void {
  const image = program.command('image').description("manage this node's local image store (used by the oci runtime)");

  image
    .command('import')
    .description('import a rootfs tarball, an OCI image layout (dir or tar) or a docker-save archive as NAME')
    .argument('<name>', 'image name, e.g. busybox:latest')
    .argument('<file>', 'the tarball, layout directory or archive')
    .option('--data-dir <dir>', "the node's data dir (images go under <dir>/images); default: a running node of the `shoal up` cluster in ./.shoal, else $SHOAL_DATA_DIR or ~/.shoal/node")
    .action(async (name: string, file: string, opts: { dataDir?: string }) => {
      try {
        const to = imageDataDir(opts.dataDir);
        const s = await store(to.dataDir).import(name, file);
        process.stdout.write(`${s.id}\n`);
        // Said on stderr: stdout stays the bare ID, as scripts read it.
        if (to.node) process.stderr.write(`Imported ${name} into ${to.node}'s image store; the cluster's other nodes fetch it from there when a task needs it\n`);
      } catch (err) {
        cliError(err);
      }
    });

  image
    .command('ls')
    .alias('list')
    .description('list the images in the local store')
    .option('--data-dir <dir>', "the node's data dir (images are under <dir>/images); default as for import")
    .option('-q, --quiet', 'only print image IDs')
    .option('--no-trunc', 'do not truncate image IDs')
    .action((opts: { dataDir?: string; quiet?: boolean; trunc: boolean }) => {
      const images = store(imageDataDir(opts.dataDir).dataDir).list();
      const id = (full: string) => (opts.trunc ? full.replace(/^sha256:/, '').slice(0, 12) : full);
      if (opts.quiet) {
        process.stdout.write(images.map((i) => `${id(i.id)}\n`).join(''));
        return;
      }
      const rows = [['NAME', 'ID', 'SIZE', 'CREATED'], ...images.map((i) => [i.name, id(i.id), humanSize(i.size), humanAgo(i.created)])];
      process.stdout.write(table(rows));
    });
}
