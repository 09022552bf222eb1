/**
 * One Raft member for `npm run bench:raft`: a RaftDriver (sqlite, fsync on)
 * replicating the reference KV state machine, with a small HTTP front:
 *   PUT /kv/<key>  body = value  → 200 once committed and applied (any member; followers forward)
 *   GET /kv/<key>                → 200 value after a ReadIndex barrier
 *   GET /status                  → the driver's status as JSON
 * argv: <id> <dataDir> <clusterPort> <httpPort> <founders: id=port,id=port,...>
 */
import http from 'node:http';
import path from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import { RaftDriver } from '../src/raft/driver.js';
import { RaftError } from '../src/raft/errors.js';
import { KvStateMachine, encodeKvCommand } from '../src/raft/kv-state-machine.js';
import { WsTransport } from '../src/wire/ws-transport.js';
import { createNodeLog } from '../src/util/log/node-logger.js';

const [id, dataDir, clusterPort, httpPort, foundersArg] = process.argv.slice(2);
const founders = Object.fromEntries(foundersArg!.split(',').map((p) => p.split('=') as [string, string]));
mkdirSync(dataDir!, { recursive: true });

// Mutual TLS with node certificates, as a Shoal cluster runs, when bench/raft.ts made them.
const tlsDir = process.env.BENCH_RAFT_TLS_DIR;
const read = (f: string) => readFileSync(path.join(tlsDir!, f), 'utf8');
const transport = new WsTransport({
  nodeId: id!,
  ...(tlsDir ? { tls: { key: read(`${id}.key`), cert: read(`${id}.crt`), ca: read('ca.crt'), nodeIdentity: true } } : {}),
});
await transport.listen({ host: '127.0.0.1', port: Number(clusterPort) });
const sm = new KvStateMachine();
const driver = await RaftDriver.start({
  id: id!,
  dataPath: path.join(dataDir!, 'raft.sqlite'),
  transport,
  stateMachine: sm,
  peers: Object.fromEntries(Object.entries(founders).map(([n, port]) => [n, `127.0.0.1:${port}`])),
  founding: { voters: Object.keys(founders), learners: [] },
  requestTimeoutMs: 5_000,
  ...(process.env.BENCH_RAFT_CHECKPOINT_MS ? { checkpointEveryMs: Number(process.env.BENCH_RAFT_CHECKPOINT_MS) } : {}),
  ...(process.env.BENCH_RAFT_LOG ? { log: createNodeLog().log } : {}),
  ...(process.env.BENCH_RAFT_SNAPSHOT_EVERY ? { raft: { snapshotEveryEntries: Number(process.env.BENCH_RAFT_SNAPSHOT_EVERY) } } : {}),
});

const TEXT = ['content-type', 'text/plain'];
const server = http.createServer((req, res) => {
  const reply = (code: number, body: string) => {
    res.writeHead(code, TEXT);
    res.end(body);
  };
  const fail = (err: unknown) => {
    const code = err instanceof RaftError ? 503 : 504;
    reply(code, String((err as Error)?.message ?? err));
  };
  // The path without a query string; no URL object per request.
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const pathname = q < 0 ? raw : raw.slice(0, q);
  if (pathname === '/status') return reply(200, JSON.stringify(driver.status()));
  if (!pathname.startsWith('/kv/') || pathname.length === 4) return reply(404, 'not found');
  let key: string;
  try {
    key = pathname.includes('%') ? decodeURIComponent(pathname.slice(4)) : pathname.slice(4);
  } catch {
    return reply(400, 'bad key');
  }
  if (req.method === 'GET') {
    driver.readBarrier().then(() => reply(200, sm.get(key) ?? ''), fail);
    return;
  }
  if (req.method !== 'PUT') return reply(405, 'method not allowed');
  let value = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (value += c));
  req.on('end', () => {
    driver.propose(encodeKvCommand({ op: 'put', key, value })).then(() => reply(200, 'ok'), fail);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(httpPort), '127.0.0.1', () => process.stdout.write(JSON.stringify({ ready: true }) + '\n'));
const loopDelay = process.env.BENCH_RAFT_LOOPSTATS ? (await import('node:perf_hooks')).monitorEventLoopDelay({ resolution: 5 }) : null;
loopDelay?.enable();
process.on('SIGTERM', () => {
  if (loopDelay) process.stderr.write(`${id}: ${JSON.stringify({ ...driver.metrics, storage: driver.storageMetrics, cpu: process.cpuUsage() })}\n`);
  if (loopDelay) process.stderr.write(`${id}: event loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(1)} ms p99 ${(loopDelay.percentile(99) / 1e6).toFixed(1)} ms max ${(loopDelay.max / 1e6).toFixed(1)} ms\n`);
  server.close();
  void driver.stop().then(() => transport.close()).then(() => process.exit(0));
});
