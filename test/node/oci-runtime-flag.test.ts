import t from 'tap';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { oneLineError, shoalInProcess as shoal } from '../cli/helpers.js';
import { nextHost } from '../manager/harness.js';
import { Daemon, DaemonError, runtimeOptions } from '../../src/node/daemon.js';
import { loadIdentity } from '../../src/node/state.js';
import { createRuntime, type Runtime } from '../../src/worker/runtime/index.js';
import { silentLogger } from '../../src/util/log/interface.js';

/**
 * `--oci-runtime runc|crun` on shoal init / join / run / up: a bad value is
 * one `shoal: …` line and exit 1; a good one is remembered in node.json and
 * reaches the oci runtime the daemon builds.
 */
const token = 'SWMTKN-1-' + 'a'.repeat(50) + '-' + 'b'.repeat(25);
/** The binary the oci runtime runs tasks with when a task names none (private; read for the test). */
const ociBinary = (r: Runtime | undefined) => (r as unknown as { binaryFor(): string }).binaryFor();

t.test('bad values: one line, exit 1, nothing created', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-ociflag-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'data');
  for (const args of [
    ['init', '--data-dir', data, '--oci-runtime', 'youki'],
    ['join', '--data-dir', data, '--token', token, '--oci-runtime', 'RUNC', '127.0.0.1:4242'],
    ['run', '--data-dir', data, '--oci-runtime', ''],
    ['up', '--dir', path.join(dir, 'up'), '--oci-runtime', 'kata'],
  ]) {
    const r = await shoal(...args);
    t.equal(oneLineError(r), null, args.join(' '));
    t.match(r.err, /--oci-runtime/, `names the flag: ${r.err.trim()}`);
    t.match(r.err, /runc.*crun/, 'lists the choices');
    t.equal(r.out, '');
  }
  t.notOk(existsSync(data), 'no data dir made');
  t.notOk(existsSync(path.join(dir, 'up')), 'no cluster dir made');
});

t.test('the help of init, join, run and up shows the flag', async (t) => {
  for (const cmd of ['init', 'join', 'run', 'up']) {
    const r = await shoal(cmd, '--help');
    t.match(r.out, /--oci-runtime <runc\|crun>/, cmd);
  }
});

t.test('runtimeOptions: the saved choice reaches the oci runtime; runc by default', async (t) => {
  const log = silentLogger;
  t.same(runtimeOptions({ ociRuntime: 'crun' }, { dataDir: '/d' }, log).oci, { runtime: 'crun' });
  t.equal(runtimeOptions({}, { dataDir: '/d' }, log).oci, undefined);
  t.equal(ociBinary(createRuntime('oci', runtimeOptions({ ociRuntime: 'crun' }, { dataDir: '/d' }, log))), 'crun');
  t.equal(ociBinary(createRuntime('oci', runtimeOptions({}, { dataDir: '/d' }, log))), 'runc', 'runc by default');
  t.throws(() => runtimeOptions({ ociRuntime: 'youki' }, { dataDir: '/d' }, log), DaemonError, 'a bad saved value is refused');
});

t.test('the daemon remembers --oci-runtime and builds its oci runtime with it', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'shoal-ocid-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const host = nextHost();
  const opts = { dataDir, advertiseAddr: `${host}:4242`, apiAddr: `${host}:2375`, tickMs: 20 };
  await t.rejects(Daemon.start({ ...opts, init: true, ociRuntime: 'youki' as 'crun' }), /--oci-runtime must be one of runc, crun/);
  let d = await Daemon.start({ ...opts, init: true, ociRuntime: 'crun' });
  try {
    t.equal(loadIdentity(dataDir)?.ociRuntime, 'crun', 'saved in node.json');
    const oci = (d.agent as unknown as { opts: { runtimes: Map<string, Runtime> } }).opts.runtimes.get('oci');
    if (oci) t.equal(ociBinary(oci), 'crun', 'the agent\'s oci runtime uses crun');
    else t.comment('the oci runtime is unavailable here (needs root and crun); checked the options only');
  } finally {
    await d.stop();
  }
  // `shoal run` without the flag keeps the choice; with it, changes it.
  d = await Daemon.start({ dataDir });
  await d.stop();
  t.equal(loadIdentity(dataDir)?.ociRuntime, 'crun', 'kept across a restart');
  d = await Daemon.start({ dataDir, ociRuntime: 'runc' });
  await d.stop();
  t.equal(loadIdentity(dataDir)?.ociRuntime, 'runc', 'changed by a restart with the flag');
});
