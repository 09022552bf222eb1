/**
 * npm run bench:raft — replicated KV puts through the normal proposal path.
 *
 * 1. Three Shoal Raft members (separate processes, sqlite with fsync) on
 *    127.0.0.1; 32 concurrent HTTP clients PUT 100-byte values at the
 *    leader, 10 s in all.
 * 2. When `etcd` is installed, a 3-member etcd on loopback gets the same
 *    load through its JSON gateway (POST /v3/kv/put), also at its leader —
 *    in phases alternating with Shoal's, so machine drift hits both alike.
 * 3. The Shoal leader is killed with SIGKILL 20 times (restarted after each
 *    kill); we time from the kill until the next write commits.
 * The members speak mutual TLS with node certificates of one test CA, as a
 * Shoal cluster does ("mtls": true); BENCH_RAFT_TLS=0 runs them over plain
 * ws, to see what TLS costs. etcd runs without TLS (its peer TLS needs
 * certificates with IP SANs and a config this bench does not write).
 * Last line: one JSON object.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuMsOf } from './proc-cpu.js';

const DURATION_MS = Number(process.env.BENCH_RAFT_MS ?? 10_000);
const CLIENTS = Number(process.env.BENCH_RAFT_CLIENTS ?? 32);
const KILLS = Number(process.env.BENCH_RAFT_KILLS ?? 20);
const VALUE = 'v'.repeat(100);
const MTLS = process.env.BENCH_RAFT_TLS !== '0';
const dir = mkdtempSync(path.join(tmpdir(), 'shoal-bench-raft-'));
const children = new Set<ChildProcess>();
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function request(method: string, port: number, p: string, body?: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: p, method, agent, timeout: timeoutMs, headers: body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

interface Load {
  writesPerS: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU µs of all three members per committed write. */
  cpuUsPerWrite: number;
}

interface Phase {
  lat: number[];
  errors: number;
  ms: number;
  /** CPU ms the system's member processes used during the phase (Linux /proc), or NaN. */
  cpuMs: number;
}

const cpuMsOfAll = (pids: (number | undefined)[]): number => pids.reduce<number>((a, p) => a + cpuMsOf(p), 0);

function summarize(phases: Phase[]): Load {
  const lat = phases.flatMap((p) => p.lat).sort((a, b) => a - b);
  const ms = phases.reduce((a, p) => a + p.ms, 0);
  return {
    writesPerS: lat.length / (ms / 1000),
    p50: pct(lat, 0.5),
    p99: pct(lat, 0.99),
    errors: phases.reduce((a, p) => a + p.errors, 0),
    cpuUsPerWrite: (phases.reduce((a, p) => a + p.cpuMs, 0) * 1000) / lat.length,
  };
}

/** CLIENTS concurrent loops, each issuing one write after another, for `ms`. */
async function drive(write: (client: number, i: number) => Promise<boolean>, ms: number, pids: (number | undefined)[] = []): Promise<Phase> {
  const lat: number[] = [];
  let errors = 0;
  const cpu0 = cpuMsOfAll(pids);
  const t0 = Date.now();
  const end = t0 + ms;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; Date.now() < end; i++) {
        const t0 = performance.now();
        const ok = await write(c, i).catch(() => false);
        if (ok) lat.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  return { lat, errors, ms: Date.now() - t0, cpuMs: cpuMsOfAll(pids) - cpu0 };
}

// ------------------------------------------------------------------ Shoal

interface Member {
  id: string;
  clusterPort: number;
  httpPort: number;
  proc: ChildProcess | null;
}

async function startMember(m: Member, founders: string): Promise<void> {
  const file = fileURLToPath(new URL('./raft-node.js', import.meta.url));
  const prof = process.env.BENCH_RAFT_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_RAFT_PROFILE}`] : [];
  const proc = spawn(process.execPath, [...prof, file, m.id, path.join(dir, m.id), String(m.clusterPort), String(m.httpPort), founders], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  m.proc = proc;
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', () => resolve());
    proc.once('exit', (c) => reject(new Error(`${m.id} exited with ${c}`)));
  });
}

async function status(m: Member): Promise<{ role: string; leader: string | null; commit: number; applied: number } | null> {
  try {
    const r = await request('GET', m.httpPort, '/status', undefined, 500);
    return JSON.parse(r.body) as { role: string; leader: string | null; commit: number; applied: number };
  } catch {
    return null;
  }
}

async function findLeader(members: Member[], timeoutMs = 15_000): Promise<Member> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const m of members) {
      if (!m.proc) continue;
      const s = await status(m);
      if (s?.role === 'leader') return m;
    }
    await sleep(20);
  }
  throw new Error('no leader');
}

interface ShoalCluster {
  members: Member[];
  founders: string;
}

async function startShoal(): Promise<ShoalCluster> {
  const members: Member[] = [];
  for (const id of ['s1', 's2', 's3']) members.push({ id, clusterPort: await freePort(), httpPort: await freePort(), proc: null });
  const founders = members.map((m) => `${m.id}=${m.clusterPort}`).join(',');
  await Promise.all(members.map((m) => startMember(m, founders)));
  await findLeader(members);
  return { members, founders };
}

async function shoalPhase(c: ShoalCluster, ms: number, tag: number): Promise<Phase> {
  const leader = await findLeader(c.members);
  return drive(
    async (cl, i) => (await request('PUT', leader.httpPort, `/kv/c${cl}-${(i + tag) % 1000}`, VALUE)).status === 200,
    ms,
    c.members.map((m) => m.proc?.pid),
  );
}

async function failovers(c: ShoalCluster): Promise<number[]> {
  const { members, founders } = c;
  const failover: number[] = [];
  for (let k = 0; k < KILLS; k++) {
    const leader = await findLeader(members);
    const survivors = members.filter((m) => m !== leader);
    const killedAt = performance.now();
    leader.proc!.kill('SIGKILL');
    leader.proc = null;
    // Writers on both survivors, retrying until one write issued after the kill commits.
    let done = false;
    let committedAt = 0;
    await Promise.all(
      survivors.map(async (m, j) => {
        for (let i = 0; !done; i++) {
          try {
            const r = await request('PUT', m.httpPort, `/kv/failover-${k}-${j}-${i}`, VALUE, 2_000);
            if (r.status === 200 && !done) {
              done = true;
              committedAt = performance.now();
            }
          } catch {
            // the write failed or timed out: try again
          }
          if (!done) await sleep(5);
        }
      }),
    );
    failover.push(committedAt - killedAt);
    process.stderr.write(`kill ${k + 1}: next write committed after ${(committedAt - killedAt).toFixed(0)} ms\n`);
    // Bring the killed member back and let it catch up before the next kill.
    await startMember(leader, founders);
    const target = (await status(await findLeader(members)))!.commit;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && ((await status(leader))?.applied ?? 0) < target) await sleep(20);
  }
  return failover;
}

// ------------------------------------------------------------------- etcd

function hasEtcd(): boolean {
  return spawnSync('etcd', ['--version'], { stdio: 'ignore' }).status === 0;
}

const etcdPids: (number | undefined)[] = [];

async function startEtcd(): Promise<number> {
  const names = ['e1', 'e2', 'e3'];
  const ports = await Promise.all(names.map(async () => ({ client: await freePort(), peer: await freePort() })));
  const initial = names.map((n, i) => `${n}=http://127.0.0.1:${ports[i]!.peer}`).join(',');
  names.forEach((n, i) => {
    const p = ports[i]!;
    const proc = spawn(
      'etcd',
      [
        '--name', n,
        '--data-dir', path.join(dir, n),
        '--listen-client-urls', `http://127.0.0.1:${p.client}`,
        '--advertise-client-urls', `http://127.0.0.1:${p.client}`,
        '--listen-peer-urls', `http://127.0.0.1:${p.peer}`,
        '--initial-advertise-peer-urls', `http://127.0.0.1:${p.peer}`,
        '--initial-cluster', initial,
        '--initial-cluster-state', 'new',
        '--log-level', 'error',
      ],
      { stdio: 'ignore' },
    );
    children.add(proc);
    etcdPids.push(proc.pid);
  });
  // Find the leader: each member's status names its own id and the leader's.
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const p of ports) {
      try {
        const r = await request('POST', p.client, '/v3/maintenance/status', '{}', 1_000);
        const s = JSON.parse(r.body) as { header?: { member_id?: string }; leader?: string };
        if (s.leader && s.header?.member_id === s.leader) return p.client;
      } catch {
        // not up yet
      }
    }
    await sleep(100);
  }
  throw new Error('etcd did not elect a leader');
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
function etcdPhase(leaderPort: number, ms: number, tag: number): Promise<Phase> {
  const value = b64(VALUE);
  return drive(async (c, i) => (await request('POST', leaderPort, '/v3/kv/put', JSON.stringify({ key: b64(`c${c}-${(i + tag) % 1000}`), value }))).status === 200, ms, etcdPids);
}

/** A CA and a manager certificate per member, in <dir>/tls/<id>.{key,crt} and ca.crt; the members find them through BENCH_RAFT_TLS_DIR. */
async function makeCertificates(ids: string[]): Promise<void> {
  const { createNodeKey, createRootCa, issueNodeCertificate } = await import('../src/wire/pki/x509.js');
  const d = path.join(dir, 'tls');
  mkdirSync(d, { recursive: true });
  const ca = await createRootCa('bench');
  writeFileSync(path.join(d, 'ca.crt'), ca.certPem);
  for (const id of ids) {
    const k = await createNodeKey(id);
    writeFileSync(path.join(d, `${id}.key`), k.keyPem, { mode: 0o600 });
    writeFileSync(path.join(d, `${id}.crt`), await issueNodeCertificate(ca, k.csrPem, { nodeId: id, role: 'manager', clusterId: 'bench' }));
  }
  process.env.BENCH_RAFT_TLS_DIR = d;
}

/**
 * Shoal and etcd are both started first and then loaded in alternating
 * phases (ROUNDS each), so drifting machine speed affects both alike.
 */
const ROUNDS = Number(process.env.BENCH_RAFT_ROUNDS ?? 4);

async function main(): Promise<void> {
  if (MTLS) await makeCertificates(['s1', 's2', 's3']);
  const shoal = await startShoal();
  const etcdPort = hasEtcd() ? await startEtcd() : null;
  if (etcdPort === null) process.stderr.write('etcd not installed (apt-get install etcd-server): no comparison\n');
  const phaseMs = Math.round(DURATION_MS / ROUNDS);
  const sp: Phase[] = [];
  const ep: Phase[] = [];
  // Warm-up, not measured: JIT-compile the Node side and fill caches on both.
  await shoalPhase(shoal, 2_000, 999);
  if (etcdPort !== null) await etcdPhase(etcdPort, 2_000, 999);
  process.stderr.write(`${CLIENTS} clients, ${ROUNDS} alternating phases of ${phaseMs} ms per system (after a 2 s warm-up each)\n`);
  for (let r = 0; r < ROUNDS; r++) {
    sp.push(await shoalPhase(shoal, phaseMs, r * 7));
    if (etcdPort !== null) ep.push(await etcdPhase(etcdPort, phaseMs, r * 7));
    const s = summarize([sp[r]!]);
    const e = etcdPort !== null ? summarize([ep[r]!]) : null;
    process.stderr.write(
      `phase ${r + 1}: shoal ${s.writesPerS.toFixed(0)} w/s p99 ${s.p99.toFixed(1)} ms cpu ${s.cpuUsPerWrite.toFixed(0)} us/write` +
        (e ? `; etcd ${e.writesPerS.toFixed(0)} w/s p99 ${e.p99.toFixed(1)} ms cpu ${e.cpuUsPerWrite.toFixed(0)} us/write` : '') +
        '\n',
    );
  }
  const load = summarize(sp);
  const etcdLoad = etcdPort !== null ? summarize(ep) : null;
  process.stderr.write(`shoal: ${load.writesPerS.toFixed(0)} writes/s, p50 ${load.p50.toFixed(1)} ms, p99 ${load.p99.toFixed(1)} ms, errors ${load.errors}, members' cpu ${load.cpuUsPerWrite.toFixed(0)} us/write\n`);
  if (etcdLoad) process.stderr.write(`etcd: ${etcdLoad.writesPerS.toFixed(0)} writes/s, p50 ${etcdLoad.p50.toFixed(1)} ms, p99 ${etcdLoad.p99.toFixed(1)} ms, errors ${etcdLoad.errors}, members' cpu ${etcdLoad.cpuUsPerWrite.toFixed(0)} us/write\n`);
  const failover = (await failovers(shoal)).sort((a, b) => a - b);
  const out = {
    mtls: MTLS,
    writes_per_s: Math.round(load.writesPerS),
    p50_ms: Number(load.p50.toFixed(2)),
    p99_ms: Number(load.p99.toFixed(2)),
    etcd_writes_per_s: etcdLoad ? Math.round(etcdLoad.writesPerS) : null,
    etcd_p99_ms: etcdLoad ? Number(etcdLoad.p99.toFixed(2)) : null,
    ratio: etcdLoad ? Number((load.writesPerS / etcdLoad.writesPerS).toFixed(3)) : null,
    failover_p50_ms: failover.length ? Math.round(pct(failover, 0.5)) : null,
    failover_p99_ms: failover.length ? Math.round(pct(failover, 0.99)) : null,
  };
  for (const m of shoal.members) m.proc?.kill('SIGTERM');
  // A profiled member writes its profile on a clean exit: give it a moment.
  if (process.env.BENCH_RAFT_PROFILE || process.env.BENCH_RAFT_LOOPSTATS) {
    const exited = shoal.members.map((m) => (m.proc && m.proc.exitCode === null ? new Promise((r) => m.proc!.once('exit', r)) : null));
    await Promise.race([Promise.all(exited), sleep(5_000)]);
  }
  cleanup();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

main().catch((err) => {
  cleanup();
  process.stderr.write(`bench:raft failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
