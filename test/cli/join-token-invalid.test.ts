/**
 * `shoal join` with a bad token, end to end: a real `shoal init` manager
 * (ProcCluster), then the compiled CLI as its own process with a garbage
 * token, a well-formed token with a wrong secret, and a well-formed token of
 * another cluster. Each must print one `shoal: …` line naming the token
 * problem (no retry loop) and exit 1 by itself, and the manager's GET /nodes
 * must still list only itself.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { distFile } from '../helpers/dist.js';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { oneLineError, type CliResult } from './helpers.js';

/** How long a CLI that has printed its error may take to exit (it should be milliseconds). */
const EXIT_GRACE_MS = 5_000;

interface JoinRun extends CliResult {
  /** ms from spawn to the first stderr line. */
  errorMs: number;
  /** Whether the process exited by itself within EXIT_GRACE_MS of printing (otherwise the test killed it). */
  exitedByItself: boolean;
}

/** Runs the compiled CLI; waits (with deadlines) for its stderr line, then for its exit; SIGKILLs it if it lingers. */
async function runCli(args: string[]): Promise<JoinRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
  delete env.SHOAL_HOST;
  const t0 = Date.now();
  const p = spawn(process.execPath, [distFile('bin/shoal.js'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let errorMs = -1;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (errorMs < 0 && err.includes('\n')) errorMs = Date.now() - t0;
  });
  const exited = new Promise<void>((r) => p.once('exit', (code, signal) => ((exit = { code, signal }), r())));
  try {
    await waitFor(() => exit !== null || errorMs >= 0, { timeoutMs: 40_000, what: `shoal ${args[0]} to print an error or exit` });
    await waitFor(() => exit !== null, { timeoutMs: EXIT_GRACE_MS, what: 'exit after the error' }).catch(() => undefined);
  } finally {
    if (exit === null) {
      p.kill('SIGKILL');
      await exited;
    }
  }
  const e = exit as unknown as { code: number | null; signal: NodeJS.Signals | null };
  const exitedByItself = e.signal === null;
  return { code: e.code ?? -1, out, err, errorMs, exitedByItself };
}

t.test('shoal join with an invalid token: exit 1, one clear line, no node added', async (t) => {
  const c = new ProcCluster();
  const scratch = mkdtempSync(path.join(tmpdir(), 'shoal-badjoin-'));
  t.teardown(async () => {
    await c.close();
    rmSync(scratch, { recursive: true, force: true });
  });
  const m1 = await c.init();
  const managerAddr = `${m1.host}:${m1.port}`;
  const nodeIds = async () => (await c.http(m1, 'GET', '/nodes')).json<{ ID: string; Description: { Hostname: string } }[]>().map((n) => n.Description.Hostname);
  t.same(await nodeIds(), ['n1'], 'the cluster starts with its one manager');

  let slot = 20;
  const join = (token: string): Promise<JoinRun> => {
    const i = slot++;
    const host = `127.0.${c.subnet}.${i}`;
    return runCli(['join', '--token', token, '--data-dir', path.join(scratch, `j${i}`), '--advertise-addr', `${host}:4242`, '--hostname', `intruder${i}`, managerAddr]);
  };

  const good = c.workerToken;
  t.match(good, /^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/, 'the real worker token (from init) has the documented shape');
  const [, digest, secret] = /^SWMTKN-1-([0-9a-z]{50})-([0-9a-z]{25})$/.exec(good)!;
  const otherSecret = secret!.replace(/^./, (ch) => (ch === 'z' ? 'y' : 'z'));

  const cases: { what: string; token: string; expect: RegExp }[] = [
    { what: 'garbage', token: 'not-a-token', expect: /invalid join token: expected SWMTKN-1-/ },
    { what: 'garbage with the right prefix', token: 'SWMTKN-1-xyz', expect: /invalid join token/ },
    { what: 'well-formed, wrong secret', token: `SWMTKN-1-${digest}-${otherSecret}`, expect: /join token is not valid/ },
    { what: 'well-formed, another cluster', token: `SWMTKN-1-${'a'.repeat(50)}-${secret}`, expect: /join token is for a different cluster/ },
  ];
  // Concurrently: each waits on its own deadlines, and a lingering process costs EXIT_GRACE_MS once, not per case.
  const runs = await Promise.all(cases.map((k) => join(k.token)));
  for (const [i, k] of cases.entries()) {
    const r = runs[i]!;
    t.comment(`${k.what}: error after ${r.errorMs} ms, ${r.exitedByItself ? `exit ${r.code}` : `still running ${EXIT_GRACE_MS} ms later (killed)`}: ${r.err.trim()}`);
    t.ok(r.exitedByItself, `${k.what}: the CLI exits by itself after printing the error`);
    t.equal(oneLineError(r), null, `${k.what}: one "shoal: " line, nothing on stdout (stdout: ${JSON.stringify(r.out)})`);
    t.equal(r.code, 1, `${k.what}: exit code 1`);
    t.match(r.err, k.expect, `${k.what}: the line names the token problem`);
    t.notMatch(r.err, /retrying|could not join through/, `${k.what}: refused, not treated as an unreachable manager`);
    t.notMatch(r.out, /joined a swarm/, `${k.what}: never says it joined`);
  }

  t.same(await nodeIds(), ['n1'], 'GET /nodes: still only the manager, no node was added');
  t.equal(m1.exits.length, 0, 'the manager is still running');
  t.notMatch(m1.stderr, /intruder\d+ joined|admitted intruder/i, 'the manager did not log an admission');
});
