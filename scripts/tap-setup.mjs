// Readies tap for this project's suite before every `npm test` (package.json "pretest"). Two
// things, both about tap 21's per-test-file cost on a 2-core machine, both idempotent and both
// skipped when tap is not installed (a production install).
//
// 1. The plugin set. tap builds its plugins into node_modules/@tapjs/test/test-built, and the set
//    npm installs includes @tapjs/typescript (ts-node) and @tapjs/mock (a module loader hook).
//    This package turns both off (package.json "tap"."plugin": the tests run compiled, and none
//    mocks modules), but tap only rebuilds the set while a run has already loaded the old one: the
//    first `npm test` after a fresh install ran every test process with ts-node's loader (measured
//    on fresh clones: much slower, and timing-sensitive tests failed). So rebuild here, before the
//    run, when the built set still names a plugin the config turns off.
//
// 2. Coverage instrumentation that the config turns off. tap loads @tapjs/processinfo's module
//    hooks into every test process whether or not coverage is collected ("disable-coverage"
//    only skips the report). On Node 20 those hooks run on a loader thread of their own, and
//    every import goes through it: measured here, 1.08 s of CPU for a test file that imports
//    nothing of ours (0.43 s without), times ~175 files — the largest share of the suite's CPU
//    that is not Shoal. tap has no switch for it, so when package.json says "disable-coverage",
//    two of tap's files get a guarded one-line change: the runner leaves the hook out of a test
//    process's arguments, and processinfo's spawn wrapper does not put it back through
//    NODE_OPTIONS when the spawn's env carries _TAPJS_PROCESSINFO_OFF_ (package.json "tap"."test-env").
//    Each change is made only where the exact original text is found; otherwise it says so and
//    the suite runs as tap ships (slower, same results).
import { readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const tapConfig = pkg.tap ?? {};

/**
 * A file inside an installed package; null if it is not installed. Found by its directory, not by
 * require.resolve: these packages' "exports" hide package.json (processinfo) or have no require
 * condition at all (@tapjs/run), and resolution must not depend on either.
 */
function resolveIn(spec, ...rest) {
  const root = path.dirname(new URL('../package.json', import.meta.url).pathname);
  for (const dir of [path.join(root, 'node_modules', spec), path.join(root, 'node_modules', 'tap', 'node_modules', spec)]) {
    try {
      if (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).name === spec) return path.join(dir, ...rest);
    } catch {
      // not here
    }
  }
  return null;
}

// ---- 1. the plugin set
const built = resolveIn('@tapjs/test', 'test-built', 'dist', 'esm', 'index.js');
if (built === null) process.exit(0); // tap is not installed: nothing to do
let text = '';
try {
  text = readFileSync(built, 'utf8');
} catch {
  // no built set yet: tap build makes it
}
const turnedOff = (tapConfig.plugin ?? []).filter((p) => p.startsWith('!')).map((p) => p.slice(1));
if (text === '' || turnedOff.some((p) => text.includes(`from "${p}"`))) {
  execFileSync(process.execPath, [resolveIn('tap', 'dist', 'esm', 'run.mjs'), 'build'], { stdio: 'inherit' });
}

// ---- 2. no coverage hooks when coverage is off
const patches = [
  {
    what: "tap's runner: the processinfo hook stays out of a test process's arguments when coverage is off",
    file: resolveIn('@tapjs/run', 'dist', 'esm', 'test-argv.js'),
    from: 'export const testArgv = (config) => [\n    ...always,',
    to: "export const testArgv = (config) => [\n    ...(config.get('disable-coverage') ? always.filter((a) => a !== pi) : always) /* shoal: scripts/tap-setup.mjs */,",
  },
  {
    what: "processinfo's spawn wrapper: it does not add its hook through NODE_OPTIONS to a spawn whose env says _TAPJS_PROCESSINFO_OFF_",
    file: resolveIn('@tapjs/processinfo', 'dist', 'esm', 'node-options-env.js'),
    from: 'export const nodeOptionsEnv = (env, args) => {\n    // if we already have the loader in args, don\'t add to NODE_OPTIONS\n    const no = nodeOptionsToArgv(env.NODE_OPTIONS);\n',
    to: "export const nodeOptionsEnv = (env, args) => {\n    // if we already have the loader in args, don't add to NODE_OPTIONS\n    const no = nodeOptionsToArgv(env.NODE_OPTIONS);\n    if (env._TAPJS_PROCESSINFO_OFF_) return argvToNodeOptions(rmLoader(no)); /* shoal: scripts/tap-setup.mjs */\n",
  },
];
if (tapConfig['disable-coverage'] === true) {
  for (const p of patches) {
    if (p.file === null) {
      console.warn(`tap-setup: not changed (its package is not where npm puts it): ${p.what}`);
      continue;
    }
    const src = readFileSync(p.file, 'utf8');
    if (src.includes(p.to)) continue; // already made
    if (!src.includes(p.from)) {
      console.warn(`tap-setup: not changed (this tap's text differs): ${p.what}`);
      continue;
    }
    writeFileSync(p.file, src.replace(p.from, p.to));
  }
}

// ---- 3. tap as one module for the test processes
// Every test process imports tap, and tap is ~300 ES modules (@tapjs/core, the test class, its
// plugins, their dependencies): Node's ES module loader, one file at a time, took 0.27 s of CPU
// to import it, against 0.10 s for the same code bundled into one file (measured 2026-12-05),
// times ~180 test files. So bundle it into .build/node_modules/tap/: the compiled test files
// live under .build/, and Node resolves their `import ... from 'tap'` there first. The runner
// (`tap`, from node_modules) is untouched, and so is the built plugin set it checks: the bundle
// is made from it and made again whenever it, tap's version or this script changes.
{
  const { createHash } = await import('node:crypto');
  const { existsSync, mkdirSync, renameSync } = await import('node:fs');
  const root = path.dirname(new URL('../package.json', import.meta.url).pathname);
  const entry = resolveIn('tap', 'dist', 'esm', 'index.js');
  const out = path.join(root, '.build', 'node_modules', 'tap');
  const key = createHash('sha256')
    .update(readFileSync(resolveIn('tap', 'package.json')))
    .update(readFileSync(built))
    .update(readFileSync(new URL(import.meta.url)))
    .digest('hex');
  const keyFile = path.join(out, '.source');
  const current = existsSync(keyFile) && existsSync(path.join(out, 'index.mjs')) && readFileSync(keyFile, 'utf8') === key;
  if (!current && entry !== null) {
    let esbuild = null;
    try {
      esbuild = await import('esbuild');
    } catch {
      console.warn('tap-setup: esbuild is not installed: test processes import tap unbundled (slower, same results)');
    }
    if (esbuild) {
      mkdirSync(out, { recursive: true });
      await esbuild.build({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        outfile: path.join(out, 'index.tmp.mjs'),
        logLevel: 'error',
        // tap's CommonJS dependencies call require(); an ES module has none of its own.
        banner: { js: "import { createRequire as __shoalCreateRequire } from 'node:module'; const require = __shoalCreateRequire(import.meta.url);" },
      });
      writeFileSync(path.join(out, 'package.json'), JSON.stringify({ name: 'tap', private: true, type: 'module', exports: { '.': './index.mjs' } }, null, 2) + '\n');
      renameSync(path.join(out, 'index.tmp.mjs'), path.join(out, 'index.mjs'));
      writeFileSync(keyFile, key);
    }
  }
}
