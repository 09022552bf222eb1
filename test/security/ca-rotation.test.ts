/**
 * A root CA rotation (#12) in a real 3+2 cluster, under a stream of
 * acknowledged KV writes through the API over TLS:
 * - `shoal swarm ca --rotate` returns once it is done;
 * - every node then trusts only the new root and holds a certificate it
 *   signed; no agent opened a new session (the rotation renews certificates
 *   over separate connections), and every node stayed ready;
 * - every acknowledged write is still there, and writes kept committing;
 * - the join tokens changed, and a node joins with the new one;
 * - the founder's admin bundle followed (the harness's API calls go through
 *   it), while a copy of the old bundle is refused.
 */
import t from 'tap';
import https from 'node:https';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcCluster, type NodeProc } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { shoalProcess } from '../cli/helpers.js';

const sessions = (n: NodeProc) => (n.stderr.match(/agent session with manager/g) ?? []).length;

t.test('a root CA rotation in a 3+2 cluster under writes: no session lost, no acknowledged write lost', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const managers = [m1, await c.join('manager', m1), await c.join('manager', m1)];
  // Concurrent joins: the cluster helper names and addresses a node when join() is called (n4, n5 in call order).
  const workers = await Promise.all([c.join('worker', m1), c.join('worker', m1)]);
  const all = [...managers, ...workers];
  const ready = async () => (await c.http(m1, 'GET', '/nodes')).json<{ Status: { State: string } }[]>().filter((n) => n.Status.State === 'ready').length;
  await waitFor(async () => (await ready()) === 5, { timeoutMs: 60_000, what: 'five ready nodes' });
  const oldRoot = readFileSync(path.join(m1.dataDir, 'tls', 'ca.crt'), 'utf8');
  const oldTokens = (await c.http(m1, 'GET', '/swarm')).json<{ JoinTokens: { Worker: string } }>().JoinTokens;
  const oldBundle = mkdtempSync(path.join(tmpdir(), 'shoal-old-admin-'));
  t.teardown(() => rmSync(oldBundle, { recursive: true, force: true }));
  cpSync(c.adminDir(), oldBundle, { recursive: true });
  // Sessions settle before we count them.
  await waitFor(() => all.every((n) => sessions(n) >= 1), { timeoutMs: 30_000, what: 'every agent in session' });
  const sessionsBefore = all.map(sessions);

  // A writer: a continuous stream of sequential acknowledged writes through whichever manager answers,
  // one every ~50 ms (the rotation's steps advance on a 1 s tick, so every step sees many writes);
  // each write goes to a key of its own, never written again.
  const acked = new Map<string, string>();
  let failures = 0;
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      const n = managers[i % managers.length]!;
      const r = await c.http(n, 'PUT', `/shoal/kv/rot-${i}`, { value: `v${i}` }, 3_000).catch(() => null);
      if (r?.status === 200) acked.set(`rot-${i}`, `v${i}`);
      else failures++;
      if (writing) await sleep(50);
    }
  })();

  const r = await shoalProcess(['swarm', 'ca', '--rotate', '--timeout', '120'], { host: `unix://${m1.dataDir}/api.sock`, timeoutMs: 150_000 });
  const ackedDuring = acked.size;
  writing = false;
  await writer;
  t.equal(r.code, 0, `shoal swarm ca --rotate: ${r.err}`);
  t.match(r.out, /CA rotation done/);

  const newRoot = readFileSync(path.join(m1.dataDir, 'tls', 'ca.crt'), 'utf8');
  t.not(newRoot, oldRoot, 'the cluster has a new root');
  const root = new X509Certificate(newRoot);
  // Every node follows (its last caTrust frame may still be on its way when the command returns).
  await waitFor(
    () =>
      all.every((n) => {
        const d = path.join(n.dataDir, 'tls');
        return readFileSync(path.join(d, 'ca.crt'), 'utf8') === newRoot && new X509Certificate(readFileSync(path.join(d, 'node.crt'), 'utf8')).verify(root.publicKey);
      }),
    { timeoutMs: 30_000, what: 'every node trusting only the new root, with a certificate it signed' },
  );
  t.pass('every node trusts only the new root and holds a certificate it signed');
  t.same(all.map(sessions), sessionsBefore, 'no agent opened a new session');
  t.equal(await ready(), 5, 'all five nodes ready');

  t.ok(ackedDuring > 0, `${ackedDuring} writes acknowledged during the rotation (${failures} failed or unknown)`);
  // Every key was written once and never again, and every ack came before this point. So one
  // linearizable read on m1 (its ReadIndex barrier: m1's state then reflects every write committed
  // before it, and that state only moves forward) followed by m1's local reads of the other keys
  // checks each acknowledged write as strongly as a linearizable read of each key would.
  const lost: string[] = [];
  const entries = [...acked];
  const last = entries.pop();
  if (last) {
    const got = await c.http(m1, 'GET', `/shoal/kv/${last[0]}`);
    if (got.status !== 200 || got.json<{ value: string }>().value !== last[1]) lost.push(last[0]);
  }
  for (let i = 0; i < entries.length; i += 8) {
    await Promise.all(
      entries.slice(i, i + 8).map(async ([k, v]) => {
        const got = await c.http(m1, 'GET', `/shoal/kv/${k}?local=true`);
        if (got.status !== 200 || got.json<{ value: string }>().value !== v) lost.push(k);
      }),
    );
  }
  t.same(lost, [], `0 of ${acked.size} acknowledged writes lost`);

  const tokens = (await c.http(m1, 'GET', '/swarm')).json<{ JoinTokens: { Worker: string }; RootRotationInProgress: boolean }>();
  t.equal(tokens.RootRotationInProgress, false);
  t.not(tokens.JoinTokens.Worker, oldTokens.Worker, 'the join tokens changed');
  c.workerToken = tokens.JoinTokens.Worker;
  const w3 = await c.join('worker', m1);
  await waitFor(async () => (await ready()) === 6, { timeoutMs: 60_000, what: 'a new worker joined with the new token' });
  t.ok(new X509Certificate(readFileSync(path.join(w3.dataDir, 'tls', 'node.crt'), 'utf8')).verify(root.publicKey), 'and got a certificate of the new root');

  // The old admin bundle no longer opens the API.
  const old = (f: string) => readFileSync(path.join(oldBundle, f), 'utf8');
  const refused = await new Promise<string>((resolve) => {
    const req = https.request({ host: m1.host, port: m1.apiPort, path: '/_ping', ca: old('ca.pem'), cert: old('cert.pem'), key: old('key.pem'), agent: false }, (res) => resolve(`answered ${res.statusCode}`));
    req.on('error', (e) => resolve(`refused: ${e.message}`));
    req.end();
  });
  t.match(refused, /^refused/, `the pre-rotation admin bundle is refused (${refused})`);
});
