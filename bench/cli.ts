/**
 * npm run bench:cli — how fast the shoal CLI starts, as a user runs it
 * (node dist/bin/shoal.js), against a bare Node on the same machine in the
 * same run.
 *
 * Starts a one-node cluster with `shoal up --managers 1 --workers 0` (its
 * own loopback prefix and a temp dir), then runs each command --runs times
 * (default 15) and reports medians:
 *   version_ms      `shoal --version`
 *   service_ls_ms   `shoal service ls` against the cluster
 *   rss_mb          the peak RSS (VmHWM) of `shoal service ls`
 *   bare_node_ms, bare_rss_mb   `node -e 0`, for scale
 *   unbundled_version_ms, unbundled_service_ls_ms   the same two commands
 *                   from tsc's output as it is, module by module (.build/bin/shoal.js):
 *                   what the bundling (scripts/bundle-dist.mjs) saves
 * Progress on stderr; the last line is one JSON object.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { median, progressOf } from './density-measure.js';

const progress = progressOf('cli');

const here = path.dirname(fileURLToPath(import.meta.url));
// The product, bundled (dist/bin/shoal.js), and tsc's output before bundling, for comparison.
const CLI = path.resolve(here, '../../dist/bin/shoal.js');
const UNBUNDLED = path.resolve(here, '../bin/shoal.js');

interface Ran {
  ms: number;
  rssMb: number;
  code: number;
  out: string;
}

/** Runs node with a preload that writes the process's peak RSS to a file as it exits. */
function runNode(args: string[], env: NodeJS.ProcessEnv, hwmFile: string, preload: string): Promise<Ran> {
  return new Promise((resolve) => {
    const started = performance.now();
    const p = spawn(process.execPath, ['-r', preload, ...args], { env: { ...env, BENCH_HWM_FILE: hwmFile }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    p.once('close', (code) => {
      const ms = performance.now() - started;
      let rssMb = NaN;
      try {
        rssMb = Number(readFileSync(hwmFile, 'utf8')) / 1024;
      } catch {
        /* it died before its exit hook */
      }
      resolve({ ms, rssMb, code: code ?? -1, out });
    });
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string' } } });
  const runs = Number(values.runs ?? process.env.BENCH_CLI_RUNS ?? 15);
  if (!(Number.isInteger(runs) && runs > 0)) throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const root = mkdtempSync(path.join(tmpdir(), 'shoal-bench-cli-'));
  const preload = path.join(root, 'hwm.cjs');
  writeFileSync(preload, "process.on('exit', () => { try { const m = /VmHWM:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8')); require('fs').writeFileSync(process.env.BENCH_HWM_FILE, m ? m[1] : 'NaN'); } catch {} });\n");
  const hwm = path.join(root, 'hwm');
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.SHOAL_HOST;
  const cwd = root;
  const up = spawnSync(process.execPath, [CLI, 'up', '--managers', '1', '--workers', '0', '--ip-prefix', '127.0.248'], { cwd, env, encoding: 'utf8', timeout: 120_000 });
  try {
    if (up.status !== 0) throw new Error(`shoal up failed: ${up.stdout}${up.stderr}`);
    progress(up.stdout.split('\n')[0] ?? '');
    const envOut = spawnSync(process.execPath, [CLI, 'env'], { cwd, env, encoding: 'utf8' }).stdout;
    // Every export `shoal env` prints (the TLS address and the admin bundle's path), as `eval` would set them.
    const exported = Object.fromEntries([...envOut.matchAll(/^export (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
    if (!exported.SHOAL_HOST) throw new Error(`shoal env printed no SHOAL_HOST: ${envOut}`);
    const withHost = { ...env, ...exported };
    const measure = async (what: string, args: string[], e: NodeJS.ProcessEnv) => {
      const r: Ran[] = [];
      await runNode(args, e, hwm, preload); // warm the page cache
      for (let i = 0; i < runs; i++) {
        const x = await runNode(args, e, hwm, preload);
        if (x.code !== 0) throw new Error(`${what} exited ${x.code}: ${x.out}`);
        r.push(x);
      }
      const ms = Math.round(median(r.map((x) => x.ms)));
      const rss = Math.round(median(r.map((x) => x.rssMb)) * 10) / 10;
      progress(`${what}: median ${ms} ms, peak RSS ${rss} MB over ${runs} runs`);
      return { ms, rss };
    };
    const bare = await measure('node -e 0', ['-e', '0'], env);
    const version = await measure('shoal --version', [CLI, '--version'], env);
    const ls = await measure('shoal service ls', [CLI, 'service', 'ls'], withHost);
    const versionU = await measure('shoal --version (unbundled)', [UNBUNDLED, '--version'], env);
    const lsU = await measure('shoal service ls (unbundled)', [UNBUNDLED, 'service', 'ls'], withHost);
    process.stdout.write(
      JSON.stringify({
        version_ms: version.ms,
        service_ls_ms: ls.ms,
        rss_mb: ls.rss,
        version_rss_mb: version.rss,
        bare_node_ms: bare.ms,
        bare_rss_mb: bare.rss,
        unbundled_version_ms: versionU.ms,
        unbundled_service_ls_ms: lsU.ms,
        runs,
      }) + '\n',
    );
  } finally {
    spawnSync(process.execPath, [CLI, 'down', '--purge'], { cwd, env, timeout: 60_000 });
    rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:cli failed: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
