/**
 * The layering rules (.dependency-cruiser.cjs) hold on the whole tree, and
 * they do catch what they forbid: a scratch tree with a deliberate upward
 * import, a manager → worker import, src/ → test machinery, and node:fs in a
 * pure core must each fail the check, naming the rule.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../helpers/dist.js';

const depcruise = path.join(repoRoot, 'node_modules', '.bin', 'depcruise');
const config = path.join(repoRoot, '.dependency-cruiser.cjs');

function cruise(cwd: string, dirs: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(depcruise, [...dirs, '--config', config, '--output-type', 'err'], { cwd, timeout: 120_000 }, (err, out, errOut) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, out: String(out) + String(errOut) });
    });
  });
}

t.test('the tree keeps its layers', async (t) => {
  const r = await cruise(repoRoot, ['src', 'bin']);
  t.equal(r.code, 0, r.out);
  t.match(r.out, /no dependency violations found/);
});

t.test('each kind of violation is caught, naming its rule', async (t) => {
  const dir = t.testdir();
  const file = (rel: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  };
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', allowImportingTsExtensions: true, noEmit: true } }));
  file('src/manager/store/store.ts', 'export const store = 1;\n');
  file('src/worker/agent/agent.ts', 'export const agent = 1;\n');
  file('test/helpers/x.ts', 'export const helper = 1;\n');
  file('src/scheduler/scheduler.ts', "import { store } from '../manager/store/store.js';\nimport { readFileSync } from 'node:fs';\nexport const s = [store, readFileSync];\n");
  file('src/manager/dispatcher/dispatcher.ts', "import { agent } from '../../worker/agent/agent.js';\nexport const d = agent;\n");
  file('src/cli/program.ts', "import { helper } from '../../test/helpers/x.js';\nexport const p = helper;\n");
  const r = await cruise(dir, ['src']);
  t.not(r.code, 0, 'the check fails');
  for (const rule of ['scheduler-not-upward', 'manager-not-worker', 'no-test-machinery-in-src', 'pure-cores-no-io']) t.match(r.out, new RegExp(`error ${rule}:`), `${rule} is reported`);
});

t.test('dist/, the product, holds no test code, and the package ships only dist/', async (t) => {
  // npm test builds first (pretest): tsc into .build/, then scripts/publish-dist.mjs copies the product out.
  const dist = path.join(repoRoot, 'dist');
  t.same(readdirSync(dist).sort(), ['bin', 'chunks', 'native', 'src'].filter((d) => d !== 'native' || existsSync(path.join(dist, 'native'))), 'only src, bin, the bundles\' shared chunks (and the native helpers)');
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.js') && /from ['"][./]*\/(test|bench|chaos-tests)\/|import\(['"][./]*\/(test|bench|chaos-tests)\//.test(readFileSync(p, 'utf8'))) offenders.push(path.relative(dist, p));
    }
  };
  walk(dist);
  t.same(offenders, [], 'no compiled file in dist/ imports test machinery');
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { files: string[]; bin: Record<string, string> };
  t.ok(pkg.files.every((f) => !/^(test|bench|chaos-tests|\.build)/.test(f)), `files: ${pkg.files.join(', ')}`);
  t.ok(Object.values(pkg.bin).every((b) => b.startsWith('dist/bin/')), 'the only binary is the product CLI');
});
