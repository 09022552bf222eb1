/**
 * The Linux data plane end to end, on one machine: three "hosts" are network
 * namespaces, each with a veth on a test switch — a bridge `shtb0` inside a
 * namespace of its own, so the machine's own interfaces, routes and tables
 * are never touched — on 172.31.250.0/24 (private, unused here, and far from
 * the 10.x overlays below). Each host runs a LinuxDataPlane in a Node child
 * started inside its namespace, as the node daemon would; tasks are busybox
 * httpd processes in the task namespaces the data plane makes.
 *
 * Skips, saying why, without root, iproute2, nftables or busybox.
 */
import t from 'tap';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NodePlan, PlanService } from '../../src/overlay-net/interface.js';
import { macForAddr } from '../../src/overlay-net/dataplane/names.js';
import { linuxDataPlaneUnavailable } from '../../src/overlay-net/linux.js';
import { onPath } from '../helpers/on-path.js';
import { distFile } from '../helpers/dist.js';
import { waitFor } from '../helpers/wait.js';

const why = (await linuxDataPlaneUnavailable()) ?? (onPath('busybox') ? null : 'busybox not installed') ?? (onPath('nsenter') ? null : 'nsenter not installed');

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}
function run(file: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Out> {
  return new Promise((resolve) => {
    const c = execFile(file, args, { timeout: opts.timeoutMs ?? 10_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
    // A command that exits without reading stdin makes this an EPIPE: its exit status tells.
    c.stdin?.on('error', () => undefined);
    c.stdin?.end(opts.input);
  });
}
const inNs = (ns: string, argv: string[], opts: { input?: string; timeoutMs?: number } = {}) => run('nsenter', [`--net=/run/netns/${ns}`, ...argv], opts);
async function must(p: Promise<Out>, what: string): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}
/** One HTTP GET from inside `ns`; the body, or null when it failed (busybox wget -T segfaults: timeout(1) bounds it). */
async function get(ns: string, url: string): Promise<string | null> {
  const r = await inNs(ns, ['timeout', '4', 'busybox', 'wget', '-q', '-O', '-', url], { timeoutMs: 6000 });
  // busybox httpd listens on IPv6: REMOTE_ADDR comes as [::ffff:a.b.c.d].
  return r.code === 0 ? r.stdout.trim().replace(/\[::ffff:([\d.]+)\]/, '$1') : null;
}
async function nslookup(ns: string, name: string, server: string): Promise<{ addrs: string[]; out: string }> {
  const r = await inNs(ns, ['timeout', '4', 'busybox', 'nslookup', '-type=a', name, server], { timeoutMs: 6000 });
  const addrs = r.stdout
    .split('\n')
    .map((l) => /^Address:\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(l)?.[1])
    .filter((a): a is string => !!a);
  return { addrs, out: r.stdout + r.stderr };
}

// ---- the topology ------------------------------------------------------------
const P = `sht${process.pid % 100000}`;
const SW = `${P}-sw`;
const HOSTS = [1, 2, 3] as const;
type H = (typeof HOSTS)[number];
const hostNs = (h: H) => `${P}-h${h}`;
const underlay = (h: H) => `172.31.250.1${h}`;
const CLIENT = '172.31.250.99'; // the switch's own address: a client outside the cluster
const UPSTREAM = '172.31.250.53';
const APP = { id: 'app', name: 'appnet', vni: 7002, subnet: '10.252.0.0/24', gateway: '10.252.0.1', internal: false, ingress: false };
const ING = { id: 'ing', name: 'ingress', vni: 7001, subnet: '10.251.0.0/24', gateway: '10.251.0.1', internal: false, ingress: true };
const nodeAddr = (net: 'app' | 'ing', h: H) => `10.${net === 'app' ? 252 : 251}.0.${1 + h}`;

interface TaskDef {
  id: string;
  host: H;
  svc: 'web' | 'client';
  app: string;
  ing?: string;
}
const web = (k: number, host: H): TaskDef => ({ id: `w${k}`, host, svc: 'web', app: `10.252.0.${10 + k}`, ing: `10.251.0.${10 + k}` });
const c1: TaskDef = { id: 'c1', host: 3, svc: 'client', app: '10.252.0.30' };
const taskNs = (task: TaskDef) => `${P}-${task.id}`;

function planFor(h: H, tasks: TaskDef[], webBackends: string[]): NodePlan {
  const attachments = (x: TaskDef) => [{ networkId: 'app', addr: x.app }, ...(x.ing ? [{ networkId: 'ing', addr: x.ing }] : [])];
  const remotes: NodePlan['remotes'] = [];
  for (const x of tasks) if (x.host !== h) for (const a of attachments(x)) remotes.push({ ...a, mac: macForAddr(a.addr), nodeUnderlay: underlay(x.host) });
  // Other nodes' own addresses: replies to traffic they SNATed come back to them.
  for (const o of HOSTS) if (o !== h) for (const net of ['app', 'ing'] as const) remotes.push({ networkId: net, addr: nodeAddr(net, o), mac: macForAddr(nodeAddr(net, o)), nodeUnderlay: underlay(o) });
  const webTasks = tasks.filter((x) => x.svc === 'web' && webBackends.includes(x.id));
  const backends = webTasks.flatMap((x) => attachments(x).map((a) => ({ taskId: x.id, ...a, local: x.host === h })));
  const services: PlanService[] = [
    { id: 's-web', name: 'web', endpointMode: 'vip', vips: [{ networkId: 'app', addr: '10.252.0.100' }, { networkId: 'ing', addr: '10.251.0.100' }], ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 8080, mode: 'ingress' }], backends, preferLocal: true, aliases: [] },
    { id: 's-rr', name: 'webrr', endpointMode: 'dnsrr', vips: [], ports: [], backends: backends.filter((b) => b.networkId === 'app'), preferLocal: false, aliases: [] },
    { id: 's-client', name: 'client', endpointMode: 'vip', vips: [{ networkId: 'app', addr: '10.252.0.101' }], ports: [], backends: [{ taskId: 'c1', networkId: 'app', addr: c1.app, local: c1.host === h }], preferLocal: false, aliases: [{ networkId: 'app', names: ['the-client'] }] },
  ];
  return {
    nodeId: `h${h}`,
    underlayAddr: underlay(h),
    networks: [
      { ...APP, nodeAddr: nodeAddr('app', h) },
      { ...ING, nodeAddr: nodeAddr('ing', h) },
    ],
    tasks: tasks
      .filter((x) => x.host === h)
      .map((x) => ({ taskId: x.id, netns: taskNs(x), serviceName: x.svc, attachments: attachments(x).map((a) => ({ ...a, mac: macForAddr(a.addr), aliases: [] })) })),
    remotes,
    services,
  };
}

// ---- the host agents ---------------------------------------------------------
interface Reply {
  seq: number;
  ok?: boolean;
  error?: string;
  ms?: number;
  metrics?: { lastApplyMs: number; lastNftMs: number; lastApplySpawns: number; lastApplyCommands: number };
  dnsErrors?: string[];
}
class Agent {
  private seq = 0;
  private readonly waiting = new Map<number, (r: Reply) => void>();
  /** An IPC write to an agent we killed fails with EPIPE: kept here, not thrown into whichever test runs then. */
  error: Error | null = null;
  constructor(readonly child: ChildProcess) {
    child.on('error', (e) => (this.error = e));
    child.on('message', (m) => {
      const r = m as Reply;
      this.waiting.get(r.seq)?.(r);
      this.waiting.delete(r.seq);
    });
  }
  static async start(h: H, dir: string): Promise<Agent> {
    const child = spawn('nsenter', [`--net=/run/netns/${hostNs(h)}`, process.execPath, distFile('test/overlay-net/fixtures/host.js'), path.join(dir, `record-h${h}.json`), UPSTREAM], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const a = new Agent(child);
    await new Promise<void>((resolve, reject) => {
      a.waiting.set(0, () => resolve());
      child.once('exit', (c) => reject(new Error(`agent h${h} exited ${c}`)));
      setTimeout(() => reject(new Error(`agent h${h} not ready in 20 s`)), 20_000).unref();
    });
    return a;
  }
  request(msg: Record<string, unknown>): Promise<Reply> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${String(msg.op)} in 20 s`)), 20_000);
      this.waiting.set(seq, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.child.send({ ...msg, seq });
    });
  }
  async apply(plan: NodePlan): Promise<Reply> {
    const r = await this.request({ op: 'apply', plan });
    if (!r.ok) throw new Error(`apply on ${plan.nodeId}: ${r.error}`);
    return r;
  }
  kill(): void {
    this.child.kill('SIGKILL');
  }
}

t.test('three hosts, one overlay', { skip: why ?? false }, async (t) => {
  const dir = t.testdir();
  const agents = new Map<H, Agent>();
  const procs: ChildProcess[] = [];
  const httpds = new Map<string, ChildProcess>();
  t.teardown(async () => {
    if (process.env.SHOAL_TEST_KEEP_NETNS) return; // debugging: leave everything up (remove with ip netns del)
    for (const p of procs) p.kill('SIGKILL');
    for (const a of agents.values()) a.kill();
    const list = await run('ip', ['netns', 'list']);
    for (const line of list.stdout.split('\n')) {
      const name = line.split(' ')[0];
      if (name.startsWith(`${P}-`)) await run('ip', ['netns', 'del', name]);
    }
  });

  // The switch and the hosts.
  await must(run('ip', ['-batch', '-'], { input: [SW, ...HOSTS.map(hostNs)].map((n) => `netns add ${n}`).join('\n') + '\n' }), 'netns add');
  const swLines = ['link set lo up', 'link add shtb0 type bridge', 'link set shtb0 up', `addr add ${CLIENT}/24 dev shtb0`, `addr add ${UPSTREAM}/24 dev shtb0`];
  for (const h of HOSTS) swLines.push(`link add u${h} type veth peer name eth0 netns ${hostNs(h)}`, `link set u${h} master shtb0 up`);
  await must(run('ip', ['-n', SW, '-batch', '-'], { input: swLines.join('\n') + '\n' }), 'switch');
  for (const h of HOSTS) await must(run('ip', ['-n', hostNs(h), '-batch', '-'], { input: `link set lo up\naddr add ${underlay(h)}/24 dev eth0\nlink set eth0 up\n` }), `host ${h}`);

  // The fake upstream resolver, outside the cluster.
  const up = spawn('nsenter', [`--net=/run/netns/${SW}`, process.execPath, distFile('test/overlay-net/fixtures/upstream.js'), UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(up);
  let upstreamLog = '';
  up.stdout!.on('data', (d) => (upstreamLog += String(d)));

  await Promise.all(HOSTS.map(async (h) => agents.set(h, await Agent.start(h, dir))));
  await waitFor(() => upstreamLog.includes('ready'), { what: 'the fake upstream', timeoutMs: 20_000 });

  let tasks: TaskDef[] = [web(1, 1), web(2, 2), c1];
  let backends = ['w1', 'w2'];
  const applyAll = async () => {
    const rs = await Promise.all(HOSTS.map((h) => agents.get(h)!.apply(planFor(h, tasks, backends))));
    return rs;
  };
  const first = await applyAll();
  t.pass(`first apply: ${first.map((r) => `${r.metrics!.lastApplyMs.toFixed(0)} ms / ${r.metrics!.lastApplySpawns} spawns / ${r.metrics!.lastApplyCommands} commands`).join(', ')}`);

  // Tasks: httpd serving its own name and a CGI printing the peer's address.
  const startWeb = async (x: TaskDef) => {
    const www = path.join(dir, x.id);
    mkdirSync(path.join(www, 'cgi-bin'), { recursive: true });
    writeFileSync(path.join(www, 'index.html'), `${x.id}\n`);
    writeFileSync(path.join(www, 'cgi-bin', 'peer'), `#!/bin/sh\nprintf 'Content-Type: text/plain\\r\\n\\r\\n%s %s\\n' "${x.id}" "$REMOTE_ADDR"\n`);
    chmodSync(path.join(www, 'cgi-bin', 'peer'), 0o755);
    const httpd = spawn('nsenter', [`--net=/run/netns/${taskNs(x)}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], { stdio: 'ignore' });
    procs.push(httpd);
    httpds.set(x.id, httpd);
    await waitFor(() => get(taskNs(x), 'http://127.0.0.1/').then((b) => b === x.id), { what: `httpd in ${x.id}`, timeoutMs: 10_000 });
  };
  await Promise.all(tasks.filter((x) => x.svc === 'web').map(startWeb));

  await t.test('task to task across hosts over VXLAN', async (t) => {
    t.equal(await get(taskNs(c1), 'http://10.252.0.11/'), 'w1', 'c1 (host 3) → w1 (host 1)');
    t.equal(await get(taskNs(c1), 'http://10.252.0.12/'), 'w2', 'c1 (host 3) → w2 (host 2)');
    t.equal(await get(taskNs(web(1, 1)), 'http://10.251.0.12/'), 'w2', 'w1 → w2 on the ingress network');
    const link = await must(inNs(taskNs(c1), ['ip', '-j', 'link', 'show', 'eth0']), 'link');
    t.equal((JSON.parse(link) as { mtu: number }[])[0].mtu, 1450, 'task MTU = underlay 1500 − 50');
  });

  const reachAll = async (ns: string, url: string, want: string[], what: string) => {
    const seen = new Set<string>();
    let n = 0;
    await waitFor(
      async () => {
        n++;
        const b = await get(ns, url);
        if (b) seen.add(b.split(' ')[0]);
        return want.every((w) => seen.has(w));
      },
      { what: `${what}: saw ${[...seen].join(',')}`, timeoutMs: 15_000, intervalMs: 1 },
    );
    return { seen, n };
  };

  await t.test('VIP load balancing reaches every backend, across hosts', async (t) => {
    const r = await reachAll(taskNs(c1), 'http://10.252.0.100/', ['w1', 'w2'], 'VIP from c1');
    t.same([...r.seen].sort(), ['w1', 'w2'], `from c1 on host 3 (all remote), ${r.n} requests`);
    const r2 = await reachAll(taskNs(web(1, 1)), 'http://10.252.0.100/', ['w1', 'w2'], 'VIP from w1');
    t.same([...r2.seen].sort(), ['w1', 'w2'], `from w1 on host 1 (one local backend: itself), ${r2.n} requests`);
    const r3 = await reachAll(hostNs(2), 'http://10.252.0.100/', ['w1', 'w2'], 'VIP from host 2 itself');
    t.same([...r3.seen].sort(), ['w1', 'w2'], `from host 2's own stack (output chain), ${r3.n} requests`);
  });

  await t.test('DNS', async (t) => {
    const ns = taskNs(c1);
    const gw = APP.gateway;
    t.same((await nslookup(ns, 'web', gw)).addrs, ['10.252.0.100'], 'web → its VIP');
    t.same((await nslookup(ns, 'tasks.web', gw)).addrs.sort(), ['10.252.0.11', '10.252.0.12'], 'tasks.web → the backends');
    t.same((await nslookup(ns, 'web.appnet', gw)).addrs, ['10.252.0.100'], 'web.appnet');
    t.same((await nslookup(ns, 'tasks.web.appnet', gw)).addrs.sort(), ['10.252.0.11', '10.252.0.12'], 'tasks.web.appnet');
    t.same((await nslookup(ns, 'the-client', gw)).addrs, ['10.252.0.101'], "a service alias: the service's VIP");
    t.same((await nslookup(ns, 'tasks.the-client', gw)).addrs, ['10.252.0.30'], 'tasks.<alias>: its task');
    const rr1 = (await nslookup(ns, 'webrr', gw)).addrs;
    const rr2 = (await nslookup(ns, 'webrr', gw)).addrs;
    t.same([...rr1].sort(), ['10.252.0.11', '10.252.0.12'], 'dnsrr → every backend');
    t.not(rr1[0], rr2[0], 'dnsrr order rotates');
    const nx = await nslookup(ns, 'nosuch.shoal', gw);
    t.match(nx.out, /NXDOMAIN/, 'unknown name under the cluster domain: NXDOMAIN');
    const ext = await nslookup(ns, 'outside.example', gw);
    t.same(ext.addrs, ['203.0.113.77'], 'other names: forwarded to the upstream');
    t.match(upstreamLog, /asked outside\.example/, 'the upstream was asked');
    t.notMatch(upstreamLog, /asked (web|tasks|nosuch)/, 'cluster names never left the node');
    t.same((await nslookup(taskNs(web(1, 1)), 'web', ING.gateway)).addrs, ['10.251.0.100'], 'on the ingress network: its VIP there');
  });

  await t.test('routing mesh: the published port answers on every host', async (t) => {
    for (const h of HOSTS) {
      const b = await get(SW, `http://${underlay(h)}:8080/`);
      t.ok(b === 'w1' || b === 'w2', `host ${h}${h === 3 ? ' (no task)' : ''} answers: ${b}`);
    }
    t.equal(await get(SW, `http://${underlay(1)}:8080/`), 'w1', 'preferLocal: host 1 answers with its own task');
    t.equal(await get(SW, `http://${underlay(2)}:8080/`), 'w2', 'preferLocal: host 2 answers with its own task');
    t.ok(['w1', 'w2'].includes((await get(hostNs(3), `http://${underlay(3)}:8080/`)) ?? ''), 'host 3 to its own address (output chain)');
    t.ok(['w1', 'w2'].includes((await get(hostNs(3), 'http://127.0.0.1:8080/')) ?? ''), 'host 3 via 127.0.0.1 (route_localnet + SNAT)');
    t.equal(await get(hostNs(1), 'http://127.0.0.1:8080/'), 'w1', 'host 1 via 127.0.0.1, local backend');
  });

  await t.test("source address: a local backend sees the client's own address", async (t) => {
    t.equal(await get(SW, `http://${underlay(1)}:8080/cgi-bin/peer`), `w1 ${CLIENT}`, 'via host 1 to its local w1: the client address, not SNATed');
    const viaRemote = await get(SW, `http://${underlay(3)}:8080/cgi-bin/peer`);
    t.match(viaRemote, new RegExp(`^w[12] ${nodeAddr('ing', 3).replace(/\./g, '\\.')}$`), `via host 3 (no task): SNATed to host 3's ingress address (${viaRemote})`);
  });

  // A connection to w2 opened now, used after w2 stops being a backend (draining).
  const held = spawn('nsenter', [`--net=/run/netns/${SW}`, 'busybox', 'nc', underlay(2), '8080'], { stdio: ['pipe', 'pipe', 'ignore'] });
  procs.push(held);
  held.stdin!.on('error', () => undefined); // an EPIPE here shows up as the missing answer below
  let heldOut = '';
  held.stdout!.on('data', (d) => (heldOut += String(d)));
  // Established (state 01) from the client's side, to :8080 (1F90).
  await waitFor(async () => (await inNs(SW, ['cat', '/proc/net/tcp'])).stdout.split('\n').some((l) => / [0-9A-F]{8}:1F90 01 /.test(l)), { what: 'the held connection established', timeoutMs: 10_000 });

  await t.test('a node restart re-applies over running tasks without changing anything', async (t) => {
    // Host 2 carries the held connection: it must survive its node process restarting.
    agents.get(2)!.kill();
    await new Promise((r) => agents.get(2)!.child.once('exit', r));
    agents.set(2, await Agent.start(2, dir));
    const r = await agents.get(2)!.apply(planFor(2, tasks, backends));
    t.equal(r.metrics!.lastApplyCommands, 0, `no kernel command needed (${r.metrics!.lastApplyMs.toFixed(0)} ms, ${r.metrics!.lastApplySpawns} spawns)`);
    t.equal(await get(taskNs(c1), 'http://10.252.0.12/'), 'w2', 'w2 still reachable');
    t.same((await nslookup(taskNs(web(2, 2)), 'tasks.web', APP.gateway)).addrs.sort(), ['10.252.0.11', '10.252.0.12'], "the restarted node's resolver answers");
  });

  await t.test('scale from 2 to 5 backends', async (t) => {
    const added = [web(3, 1), web(4, 2), web(5, 3)];
    tasks = [...tasks, ...added];
    backends = ['w1', 'w2', 'w3', 'w4', 'w5'];
    const rs = await applyAll();
    t.pass(`apply: ${rs.map((r) => `${r.metrics!.lastApplyMs.toFixed(0)} ms`).join(', ')}`);
    await Promise.all(added.map(startWeb));
    const r = await reachAll(taskNs(c1), 'http://10.252.0.100/', backends, 'VIP after scaling');
    t.same([...r.seen].sort(), backends, `all 5 reached through the VIP in ${r.n} requests`);
    t.same((await nslookup(taskNs(c1), 'tasks.web', APP.gateway)).addrs.sort(), ['10.252.0.11', '10.252.0.12', '10.252.0.13', '10.252.0.14', '10.252.0.15'], 'tasks.web lists 5');
  });

  await t.test('load through the VIP and the mesh: nothing fails, every backend serves', async (t) => {
    const load = async (ns: string, url: string) => {
      const out = await must(inNs(ns, [process.execPath, distFile('test/overlay-net/fixtures/load.js'), url, '150', '8'], { timeoutMs: 30_000 }), `load ${url}`);
      return JSON.parse(out) as { ok: number; failed: number; rps: number; p50: number; p99: number; byBackend: Record<string, number> };
    };
    const vip = await load(taskNs(c1), 'http://10.252.0.100/');
    console.log(`# VIP from c1 (host 3): ${JSON.stringify(vip)}`);
    t.equal(vip.failed, 0, `VIP: 150 requests, 8 at a time, none failed (${vip.rps} req/s, p50 ${vip.p50} ms, p99 ${vip.p99} ms)`);
    t.same(Object.keys(vip.byBackend).sort(), ['w1', 'w2', 'w3', 'w4', 'w5'], `VIP: every backend served: ${JSON.stringify(vip.byBackend)}`);
    const mesh = await load(SW, `http://${underlay(3)}:8080/`);
    console.log(`# mesh via host 3 from outside: ${JSON.stringify(mesh)}`);
    t.equal(mesh.failed, 0, `mesh: 150 requests, 8 at a time, none failed (${mesh.rps} req/s, p50 ${mesh.p50} ms, p99 ${mesh.p99} ms)`);
    t.same(Object.keys(mesh.byBackend).sort(), ['w5'], 'mesh on host 3 with preferLocal: its own task only');
  });

  await t.test('removing a backend: fast, and new connections never reach it', async (t) => {
    backends = ['w1', 'w3', 'w4', 'w5'];
    // One host at a time: each is a machine of its own in a real cluster, not three processes sharing two cores.
    const rs: Reply[] = [];
    for (const h of HOSTS) rs.push(await agents.get(h)!.apply(planFor(h, tasks, backends)));
    for (const [i, r] of rs.entries()) t.equal(r.metrics!.lastApplySpawns, 0, `host ${i + 1}: only rules changed: no process spawn (the nft session)`);
    const figures = rs.map((r, i) => `host ${i + 1}: apply ${r.metrics!.lastApplyMs.toFixed(1)} ms (rules in force after ${r.metrics!.lastNftMs.toFixed(1)} ms, ${r.metrics!.lastApplySpawns} spawns)`);
    console.log(`# backend removal: ${figures.join('; ')}`);
    t.pass(figures.join('; '));
    const seen = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const b = (await get(taskNs(c1), 'http://10.252.0.100/')) ?? 'failed';
      seen.set(b, (seen.get(b) ?? 0) + 1);
    }
    for (let i = 0; i < 8; i++) {
      const b = (await get(SW, `http://${underlay(2)}:8080/`)) ?? 'failed';
      seen.set(`mesh:${b}`, (seen.get(`mesh:${b}`) ?? 0) + 1);
    }
    t.notOk([...seen.keys()].some((k) => k.endsWith('w2') || k.endsWith('failed')), `38 new connections, none to w2, none failed: ${JSON.stringify(Object.fromEntries(seen))}`);
    t.ok(seen.has('mesh:w4'), 'host 2 now answers with its other local task');
    held.stdin!.write('GET / HTTP/1.0\r\n\r\n');
    await waitFor(() => heldOut.includes('w2'), { what: `the held connection's answer (got ${JSON.stringify(heldOut)})`, timeoutMs: 5000 });
    t.pass('the connection opened before the removal (and before its node process restarted) still reached w2: conntrack kept it (draining)');
  });

  await t.test('a task leaving the plan takes its namespace, veths and remote entries with it', async (t) => {
    const w2 = tasks.find((x) => x.id === 'w2')!;
    httpds.get('w2')!.kill('SIGKILL');
    const veths = async (h: H) => (JSON.parse(await must(inNs(hostNs(h), ['ip', '-j', 'link', 'show']), 'links')) as { ifname: string }[]).filter((l) => /^shv[0-9a-f]{12}$/.test(l.ifname)).length;
    const before = await veths(2);
    tasks = tasks.filter((x) => x.id !== 'w2');
    const rs = await applyAll();
    t.pass(`apply: ${rs.map((r) => `${r.metrics!.lastApplyMs.toFixed(0)} ms / ${r.metrics!.lastApplyCommands} commands`).join(', ')}`);
    t.equal(await veths(2), before - 2, 'host 2: its two veths are gone');
    const netns = (await must(run('ip', ['netns', 'list']), 'netns')).split('\n').map((l) => l.split(' ')[0]);
    t.notOk(netns.includes(taskNs(w2)), 'its namespace is gone');
    for (const h of [1, 3] as const) {
      const neigh = await must(inNs(hostNs(h), ['ip', 'neigh', 'show', 'nud', 'permanent']), 'neigh');
      t.notMatch(neigh, /10\.25[12]\.0\.12 /, `host ${h}: no neighbour entry for its addresses`);
      t.match(neigh, /10\.252\.0\.14 /, `host ${h}: the others' stay`);
      const fdb = await must(inNs(hostNs(h), ['bridge', 'fdb', 'show']), 'fdb');
      // Ours are the VXLAN device's own (`self`) entries with a destination; the bridge may still have learnt the MAC (it ages out).
      t.notMatch(fdb, new RegExp(`${macForAddr(w2.app)} dev shvx\\d+ dst `), `host ${h}: no VXLAN FDB entry for its MAC`);
      t.match(fdb, new RegExp(`${macForAddr(web(4, 2).app)} dev shvx\\d+ dst ${underlay(2).replace(/\./g, '\\.')} self permanent`), `host ${h}: the others' stay`);
    }
    t.equal(await get(taskNs(c1), 'http://10.252.0.14/'), 'w4', 'the others still answer across hosts');
  });

  await t.test('teardown leaves no namespace, link or nft table', async (t) => {
    for (const p of procs) p.kill('SIGKILL');
    for (const h of HOSTS) {
      const r = await agents.get(h)!.request({ op: 'teardown' });
      t.ok(r.ok, `host ${h} torn down ${r.error ?? ''}`);
    }
    const netns = (await must(run('ip', ['netns', 'list']), 'netns')).split('\n').map((l) => l.split(' ')[0]);
    t.same(netns.filter((n) => tasks.some((x) => n === taskNs(x))), [], 'no task namespace left');
    for (const h of HOSTS) {
      const links = JSON.parse(await must(inNs(hostNs(h), ['ip', '-j', 'link', 'show']), 'links')) as { ifname: string }[];
      t.same(links.map((l) => l.ifname).filter((n) => /^sh(br|vx|v)/.test(n)), [], `host ${h}: no link of ours`);
      t.not((await inNs(hostNs(h), ['nft', 'list', 'table', 'ip', 'shoal'])).code, 0, `host ${h}: no nft table`);
    }
  });
});
