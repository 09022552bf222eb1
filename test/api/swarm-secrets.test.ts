/**
 * No API response carries the cluster's key material. The stored cluster
 * object holds the root secret, the gossip key and (with node PKI) the CA's
 * key; a spec sent by a client may hold a signing CA key. GET /swarm, GET
 * /info and every other read are scanned for each value (as stored, and in
 * the other encodings a leak could take), and a read-modify-write through
 * the API (docker swarm update) keeps them in the store.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { clusterDigest } from '../../src/manager/membership/tokens.js';
import type { Cluster } from '../../src/model/index.js';
import { startApi } from './helpers.js';

t.test('GET /swarm, /info and the other reads never return the gossip key, the root secret or any CA key', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const ctx = api.ctx;
  const cur = ctx.store.list('cluster')[0]!;
  const gossipKey = randomBytes(32).toString('base64');
  const caKey = `-----BEGIN PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END PRIVATE KEY-----\n`;
  const signingKey = `-----BEGIN EC PRIVATE KEY-----\n${randomBytes(48).toString('base64')}\n-----END EC PRIVATE KEY-----\n`;
  // Tokens made as a manager makes them (the digest is a hash, never the secret itself).
  const token = () => `SWMTKN-1-${clusterDigest(cur.ShoalRootSecret!)}-${randomBytes(20).toString('hex').slice(0, 25)}`;
  const withKeys = {
    ...cur,
    JoinTokens: { Worker: token(), Manager: token() },
    Spec: { ...cur.Spec, CAConfig: { ...cur.Spec.CAConfig, SigningCAKey: signingKey } },
    ShoalGossipKey: gossipKey,
    ShoalCA: { CertPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', KeyPem: caKey },
  } as Cluster;
  ctx.mustApply([{ op: 'update', kind: 'cluster', object: withKeys, expect: cur.Version.Index }]);
  const rootSecret = (ctx.store.list('cluster')[0] as Cluster).ShoalRootSecret!;
  t.ok(rootSecret, 'the stored cluster has a root secret');

  const secrets: Record<string, string[]> = {
    'the gossip key': [gossipKey, Buffer.from(gossipKey, 'base64').toString('hex'), Buffer.from(gossipKey, 'base64').toString('base64url')],
    'the root secret': [rootSecret],
    "the CA's key": [caKey, caKey.split('\n')[1]!],
    'the signing CA key': [signingKey, signingKey.split('\n')[1]!],
  };
  const scan = (what: string, text: string) => {
    // JSON escapes newlines: look for each value as it would appear inside a JSON string, and raw.
    const leaks = Object.entries(secrets).filter(([, forms]) => forms.some((v) => text.includes(v) || text.includes(JSON.stringify(v).slice(1, -1))));
    t.same(
      leaks.map(([name]) => name),
      [],
      `${what}: no key material`,
    );
  };

  for (const path of ['/swarm', '/v1.47/swarm', '/info', '/v1.47/info', '/v1.24/info', '/swarm/unlockkey', '/version', '/nodes', '/networks', '/services', '/tasks', '/_ping']) {
    const r = await api.req('GET', path);
    t.equal(r.status, 200, `GET ${path}`);
    scan(`GET ${path}`, r.text);
  }

  // The shapes are still Docker's: the fields the docker CLI reads are there.
  const swarm = (await api.req('GET', '/swarm')).body;
  t.equal(swarm.ID, cur.ID);
  t.match(swarm.JoinTokens, { Worker: /^SWMTKN-1-/, Manager: /^SWMTKN-1-/ }, 'join tokens are part of GET /swarm, as in Docker');
  t.same(Object.keys(swarm).filter((k) => k.startsWith('Shoal')), [], 'no Shoal-private field at all');
  t.equal(swarm.Spec.CAConfig.NodeCertExpiry, cur.Spec.CAConfig?.NodeCertExpiry, 'the rest of CAConfig is kept');
  t.equal(swarm.Spec.CAConfig.SigningCAKey, undefined);
  const info = (await api.req('GET', '/info')).body;
  t.equal(info.Swarm.Cluster.ID, cur.ID);
  t.equal(info.Swarm.Cluster.JoinTokens, undefined, '/info shows no join tokens');
  t.same(Object.keys(info.Swarm.Cluster).filter((k) => k.startsWith('Shoal')), []);

  // docker swarm update reads /swarm, edits the spec and sends it back: the keys stay in the store.
  const version = ctx.store.list('cluster')[0]!.Version.Index;
  const upd = await api.req('POST', `/swarm/update?version=${version}`, { ...swarm.Spec, Labels: { edited: 'yes' } });
  t.equal(upd.status, 200);
  const stored = ctx.store.list('cluster')[0] as Cluster & { ShoalGossipKey?: string };
  t.equal(stored.Spec.Labels?.edited, 'yes');
  t.equal(stored.ShoalGossipKey, gossipKey, 'the gossip key is still stored');
  t.equal(stored.ShoalRootSecret, rootSecret, 'the root secret too');
  scan('GET /swarm after an update', (await api.req('GET', '/swarm')).text);
});
