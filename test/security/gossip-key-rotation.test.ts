/**
 * Rotating the cluster gossip key on a real cluster (a manager from `shoal
 * init`, a worker from `shoal join`): `shoal swarm update
 * --rotate-gossip-key` makes a new primary key, every node hears the ring
 * over its (mutual-TLS) agent session and sends with the new key, the
 * leader retires the old key once every node says so in its heartbeats, and
 * each node keeps the ring across a restart. No API read shows a key.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ProcCluster, type NodeProc } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { shoalProcess } from '../cli/helpers.js';

const ring = (n: NodeProc): string[] => {
  const id = JSON.parse(readFileSync(path.join(n.dataDir, 'node.json'), 'utf8')) as { gossipKey: string; gossipKeys?: string[] };
  return id.gossipKeys ?? [id.gossipKey];
};

t.test('shoal swarm update --rotate-gossip-key: every node moves to the new key, then the old one is retired', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const w1 = await c.join('worker', m1);
  const ready = async () => (await c.http(m1, 'GET', '/nodes')).json<{ Status: { State: string } }[]>().filter((n) => n.Status.State === 'ready').length;
  await waitFor(async () => (await ready()) === 2, { timeoutMs: 30_000, what: 'both nodes ready' });
  const [old] = ring(m1);
  t.same(ring(w1), [old], 'the worker joined with the cluster key');

  const r = await shoalProcess(['swarm', 'update', '--rotate-gossip-key'], { host: `unix://${m1.dataDir}/api.sock` });
  t.equal(r.code, 0, `shoal swarm update --rotate-gossip-key: ${r.err}`);
  t.match(r.out, /Gossip key rotated/);

  // Every node sends with the new key, and the leader retires the old one once both said so.
  await waitFor(() => [m1, w1].every((n) => ring(n).length === 1 && ring(n)[0] !== old), { timeoutMs: 20_000, what: `both nodes on one new key (now ${JSON.stringify([ring(m1).length, ring(w1).length])})` });
  const fresh = ring(m1)[0]!;
  t.same(ring(w1), [fresh], 'the worker has exactly the new key');
  t.not(fresh, old, 'a new key');

  // No API read carries a key.
  for (const p of ['/swarm', '/info', '/nodes']) {
    const body = (await c.http(m1, 'GET', p)).body;
    t.notOk(body.includes(fresh) || body.includes(old), `GET ${p} carries no gossip key`);
  }

  // The ring survives a restart: the worker comes back on the new key and registers again.
  await c.kill(w1);
  await c.restart(w1);
  t.same(ring(w1), [fresh], 'the restarted worker kept the new key');
  await waitFor(async () => (await ready()) === 2, { timeoutMs: 30_000, what: 'both nodes ready after the worker restarted' });

  // A second rotation works the same way from the new key.
  const again = await shoalProcess(['swarm', 'update', '--rotate-gossip-key'], { host: `unix://${m1.dataDir}/api.sock` });
  t.equal(again.code, 0, again.err);
  await waitFor(() => [m1, w1].every((n) => ring(n).length === 1 && ring(n)[0] !== fresh && ring(n)[0] !== old), { timeoutMs: 20_000, what: 'both nodes on a third key' });
  t.equal(ring(m1)[0], ring(w1)[0], 'one key across the cluster');
});
