/**
 * npm run bench:wire — sequential 1 KiB request/response round trips between
 * two processes on loopback: plain ws (no codec) vs Shoal's wire over ws, and
 * over ws with mutual TLS and node certificates (wss, as a Shoal cluster
 * runs), and over hyperswarm. Paired, alternating rounds; throughputs are medians and
 * the ratio is the median of per-pair ratios. Last line: one JSON object.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import createTestnet from 'hyperdht/testnet.js';
import { WsTransport } from '../src/wire/ws-transport.js';
import { HyperswarmTransport } from '../src/wire/hyperswarm-transport.js';
import type { Connection } from '../src/wire/interface.js';
import { BenchEcho } from './wire-messages.js';

const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PAYLOAD = Buffer.alloc(1024, 0x5a);
const children: ChildProcess[] = [];

async function server(args: string[]): Promise<string> {
  const file = fileURLToPath(new URL('./wire-server.js', import.meta.url));
  const p = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: p.stdout! }).once('line', resolve);
    p.once('exit', (c) => reject(new Error(`bench server exited ${c}`)));
  });
  return (JSON.parse(line) as { address: string }).address;
}

interface Result {
  rttPerS: number;
  p99Us: number;
}

/**
 * Runs `once` back to back for ROUND_MS; returns throughput and p99 latency.
 * Both clients do the same per round trip: one promise, and the echo's
 * length checked here.
 */
async function measure<T>(once: () => Promise<T>, len: (echo: T) => number): Promise<Result> {
  const check = (echo: T) => {
    if (len(echo) !== PAYLOAD.length) throw new Error(`bad echo: ${len(echo)} bytes`);
  };
  const warmUntil = Date.now() + 300;
  while (Date.now() < warmUntil) check(await once());
  const lat: number[] = [];
  const start = process.hrtime.bigint();
  const end = start + BigInt(ROUND_MS) * 1_000_000n;
  let now = start;
  while (now < end) {
    const t0 = now;
    check(await once());
    now = process.hrtime.bigint();
    lat.push(Number(now - t0) / 1000);
  }
  lat.sort((a, b) => a - b);
  return { rttPerS: lat.length / (Number(now - start) / 1e9), p99Us: lat[Math.floor(lat.length * 0.99)]! };
}

function rawClient(url: string): Promise<() => Promise<number>> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let pending: ((n: number) => void) | null = null;
    ws.on('message', (d: Buffer) => {
      const p = pending;
      pending = null;
      p?.(d.length);
    });
    ws.once('open', () =>
      resolve(
        () =>
          new Promise<number>((r) => {
            pending = r;
            ws.send(PAYLOAD);
          }),
      ),
    );
  });
}

function shoalClient(conn: Connection): () => Promise<{ payload: Uint8Array }> {
  // The request's own promise, no wrapper: an async wrapper would add a promise and a microtask
  // hop per round trip that the raw client does not pay.
  return () => conn.request(BenchEcho, { payload: PAYLOAD });
}
const rawLen = (n: number) => n;
const shoalLen = (r: { payload: Uint8Array }) => r.payload.length;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const rawOnce = await rawClient(await server(['raw']));
  const wsClient = new WsTransport({ nodeId: 'bench-client' });
  const wsOnce = shoalClient(await wsClient.connect(await server(['ws']), { expectNodeId: 'bench-server' }));
  const { createNodeKey, createRootCa, issueNodeCertificate } = await import('../src/wire/pki/x509.js');
  const ca = await createRootCa('bench');
  const tlsFor = async (nodeId: string) => {
    const k = await createNodeKey(nodeId);
    return { key: k.keyPem, cert: await issueNodeCertificate(ca, k.csrPem, { nodeId, role: 'manager', clusterId: 'bench' }), ca: ca.certPem };
  };
  const wssClient = new WsTransport({ nodeId: 'bench-client', tls: { ...(await tlsFor('bench-client')), nodeIdentity: true } });
  const wssOnce = shoalClient(await wssClient.connect(await server(['wss', JSON.stringify(await tlsFor('bench-server'))]), { expectNodeId: 'bench-server' }));

  const raw: Result[] = [];
  const shoal: Result[] = [];
  const wss: Result[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Paired rounds, alternating which side goes first, so a burst of
    // background load on this shared 2-core machine lands on both sides of a
    // pair; the ratio is the median of the per-pair ratios.
    if (r % 2 === 0) {
      raw.push(await measure(rawOnce, rawLen));
      shoal.push(await measure(wsOnce, shoalLen));
      wss.push(await measure(wssOnce, shoalLen));
    } else {
      wss.push(await measure(wssOnce, shoalLen));
      shoal.push(await measure(wsOnce, shoalLen));
      raw.push(await measure(rawOnce, rawLen));
    }
    process.stderr.write(`round ${r + 1}: raw ${raw[r]!.rttPerS.toFixed(0)}/s, shoal ws ${shoal[r]!.rttPerS.toFixed(0)}/s, shoal wss (mTLS) ${wss[r]!.rttPerS.toFixed(0)}/s\n`);
  }

  const testnet = await createTestnet(3, { host: '127.0.0.1' });
  const hsClient = new HyperswarmTransport({ nodeId: 'bench-client', bootstrap: testnet.bootstrap });
  const hsOnce = shoalClient(await hsClient.connect(await server(['hyperswarm', JSON.stringify(testnet.bootstrap)]), { expectNodeId: 'bench-server', timeoutMs: 15_000 }));
  const hs: Result[] = [];
  for (let r = 0; r < ROUNDS; r++) hs.push(await measure(hsOnce, shoalLen));

  const rawRtt = median(raw.map((x) => x.rttPerS));
  const wsRtt = median(shoal.map((x) => x.rttPerS));
  const out = {
    ws_rtt_per_s: Math.round(wsRtt),
    ws_p99_us: Math.round(median(shoal.map((x) => x.p99Us))),
    raw_ws_rtt_per_s: Math.round(rawRtt),
    overhead_ratio: Number(median(shoal.map((x, i) => x.rttPerS / raw[i]!.rttPerS)).toFixed(3)),
    wss_rtt_per_s: Math.round(median(wss.map((x) => x.rttPerS))),
    wss_p99_us: Math.round(median(wss.map((x) => x.p99Us))),
    mtls_ratio: Number(median(wss.map((x, i) => x.rttPerS / shoal[i]!.rttPerS)).toFixed(3)),
    hyperswarm_rtt_per_s: Math.round(median(hs.map((x) => x.rttPerS))),
    hyperswarm_p99_us: Math.round(median(hs.map((x) => x.p99Us))),
  };
  for (const c of children) c.kill('SIGKILL');
  await wsClient.close();
  await wssClient.close();
  await hsClient.close();
  await testnet.destroy();
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

main().catch((err) => {
  for (const c of children) c.kill('SIGKILL');
  process.stderr.write(`bench:wire failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
