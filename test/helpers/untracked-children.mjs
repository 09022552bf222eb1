// Preloaded into every test process (package.json "tap"."node-arg").
//
// tap starts each test file with @tapjs/processinfo's loader in NODE_OPTIONS,
// and processinfo hooks every spawn so that children load it too, whatever
// env the caller passed: NODE_OPTIONS '' is replaced by the parent's. It
// exists for coverage, which this project's tap config turns off. In the
// children it only costs: every shoal node, supervisor and CLI process a test
// starts ran its module loading through the loader thread (`shoal --version`
// 0.34 s instead of 0.14 s) and wrote a processinfo file on exit. So drop it
// from every spawn of a test process; the test process itself stays as tap
// made it.
const state = globalThis[Symbol.for('process-on-spawn@*:singletonId')];
// NODE_OPTIONS as processinfo writes it: `"--import=file:///…/@tapjs/processinfo/dist/esm/import.mjs"`.
const ours = /"?--(?:import|loader|experimental-loader)[= ][^\s"]*@tapjs[/\\]processinfo[^\s"]*"?/g;
state?.listeners.push((opts) => {
  const env = { ...opts.env };
  if (typeof env.NODE_OPTIONS === 'string') env.NODE_OPTIONS = env.NODE_OPTIONS.replace(ours, '').trim();
  for (const k of Object.keys(env)) if (k.startsWith('_TAPJS_PROCESSINFO_')) delete env[k];
  opts.env = env;
});

// SHOAL_FILE_TIMES=FILE appends when each test process started and ended
// (epoch ms, start|end, pid, its CPU seconds, then on the end line, as root,
// tree=S sys=S, last the file): with SHOAL_WAIT_TRACE, where the suite's wall
// time goes, including what tap's "# time=" leaves out (a test process's
// start-up and its imports).
const times = process.env.SHOAL_FILE_TIMES;
if (times) {
  const { appendFileSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } = await import('node:fs');
  const file = process.argv[1] ?? '?';
  const line = (what, extra = '') => {
    const u = process.cpuUsage();
    appendFileSync(times, `${Date.now()} ${what} ${process.pid} ${((u.user + u.system) / 1e6).toFixed(2)}${extra} ${file}\n`);
  };
  // As root with cgroup v1's cpuacct, also the CPU of the file's whole process tree (its nodes,
  // supervisors, CLIs, kernel time included) from here to its end. Children inherit the group;
  // empty groups of files that ended are removed by the next file's start (a group is only
  // removable once no process is in it).
  const base = '/sys/fs/cgroup/cpuacct/shoaltest';
  let cg = null;
  try {
    for (const d of readdirSync(base)) {
      try {
        rmdirSync(`${base}/${d}`); // fails while a process is in it
      } catch {}
    }
  } catch {}
  try {
    mkdirSync(`${base}/${process.pid}`, { recursive: true });
    writeFileSync(`${base}/${process.pid}/cgroup.procs`, String(process.pid));
    cg = `${base}/${process.pid}`;
  } catch {}
  const sec = (f) => (Number(readFileSync(`${cg}/${f}`, 'utf8')) / 1e9).toFixed(2);
  line('start');
  process.on('exit', () => line('end', cg ? ` tree=${sec('cpuacct.usage')} sys=${sec('cpuacct.usage_sys')}` : ''));
}

// Source maps for our code, not for tap's. tap starts every test file with
// --enable-source-maps (failures then point at the .ts lines), and Node reads
// and parses the map of every module it compiles while that is on: tap's own
// ~300 modules cost each test process ~0.08 s of CPU (0.37 s → 0.45 s for a
// test file that only imports tap), ~15 s over the suite, for stack frames tap
// filters out anyway. So load tap here with maps off, the test file then gets
// the same (cached) tap, and turn maps back on for everything after: the test
// file and the modules of ours it imports. Only where tap asked for them.
// The same tap the test file gets: the bundle scripts/tap-setup.mjs makes where the compiled test
// files resolve 'tap' (.build/node_modules/tap), or the installed package when there is none.
if (process.sourceMapsEnabled) {
  process.setSourceMapsEnabled(false);
  try {
    const { existsSync } = await import('node:fs');
    const bundle = new URL('../../.build/node_modules/tap/index.mjs', import.meta.url);
    await import(existsSync(bundle) ? bundle.href : 'tap');
  } finally {
    process.setSourceMapsEnabled(true);
  }
}
