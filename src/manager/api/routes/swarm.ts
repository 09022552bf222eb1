/**
 * The swarm ("cluster") object: inspect, update (spec and join-token
 * rotation), unlock key. `docker swarm join-token --rotate worker` reads
 * GET /swarm, posts the unchanged spec with rotateWorkerToken=true, and
 * reads GET /swarm again to print the new token.
 */
import { makeToken } from '../../membership/tokens.js';
import { caKeyPair, tokenDigest } from '../../membership/ca.js';
import { sealCa, withOpenCa } from '../../secrets/ca-key.js';
import { beginCaRotation } from '../../membership/ca-rotation.js';
import { rotateGossipKeys } from '../../membership/gossip-keys.js';
import type { Store } from '../../store/store.js';
import type { Cluster } from '../../../model/index.js';
import { ApiError, unavailable } from '../errors.js';
import { boolParam, versionParam } from '../http.js';
import type { Deps } from '../options.js';
import type { Router } from '../router.js';
import { clusterShape } from '../shapes.js';
import { commitOps, readStore } from '../state.js';
import { validateSwarmSpec } from '../validate/swarm-spec.js';

export function theCluster(store: Store): Cluster {
  const c = store.list('cluster')[0];
  if (!c) throw unavailable('this node is not part of a swarm yet (no cluster object): run `shoal init` first');
  return c;
}

const ALREADY = 'This node is already part of a swarm. Use "shoal node rm" on a manager to remove it, then join another one.';

/** What an admin certificate may be called (its CN). */
const ADMIN_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.@-]{0,63}$/;

export function swarmRoutes(r: Router, d: Deps): void {
  const { ctx } = d;

  // Shoal's own: an administrator's client certificate for the API over TLS,
  // for the key the caller's CSR proves (`shoal swarm admin-cert`). Only an
  // authenticated caller gets here (the API's unix socket, or TLS with an
  // admin's or a manager's certificate), so an admin can make more admins —
  // as anyone with dockerd's CA key could.
  r.add('POST', '/swarm/admin-cert', async (req) => {
    const b = (await req.json()) as { Name?: unknown; CSR?: unknown } | null;
    if (!b || typeof b !== 'object') throw new ApiError(400, 'the body must be {"Name": "...", "CSR": "-----BEGIN CERTIFICATE REQUEST-----..."}');
    if (typeof b.Name !== 'string' || !ADMIN_NAME.test(b.Name)) throw new ApiError(400, `Name must be 1-64 characters of letters, digits and _.@- (starting with a letter or digit), got ${JSON.stringify(b.Name)}`);
    if (typeof b.CSR !== 'string' || !b.CSR.includes('CERTIFICATE REQUEST')) throw new ApiError(400, 'CSR must be a PEM certificate request (-----BEGIN CERTIFICATE REQUEST-----)');
    const c = theCluster(await readStore(ctx));
    if (!c.ShoalCA) throw unavailable('this cluster has no certificate authority yet');
    const { issueAdminCertificate } = await import('../../../wire/pki/x509.js');
    const cert = await issueAdminCertificate(caKeyPair(withOpenCa(c, ctx.dataKey?.() ?? null)), { name: b.Name, clusterId: c.ID, csrPem: b.CSR });
    return { status: 201, body: { Certificate: cert.certPem, CA: c.ShoalCA.CertPem } };
  });

  r.add('GET', '/swarm', async () => ({ body: clusterShape(theCluster(await readStore(ctx))) }));

  r.add('POST', '/swarm/update', async (req) => {
    const version = versionParam(req.query, 'swarm');
    const spec = validateSwarmSpec(await req.json());
    const rotateWorker = boolParam(req.query, 'rotateWorkerToken');
    const rotateManager = boolParam(req.query, 'rotateManagerToken');
    // Autolock is refused by validateSwarmSpec; rotating a key that does not exist is a no-op, as in dockerd.
    boolParam(req.query, 'rotateManagerUnlockKey');
    // Shoal's own: a new gossip key (membership/gossip-keys.ts).
    const rotateGossip = boolParam(req.query, 'rotateGossipKey');
    const cur = theCluster(await readStore(ctx));
    let tokens = cur.JoinTokens;
    if (rotateWorker || rotateManager) {
      // A cluster with neither a CA nor a root secret is a bootstrap bug, not the client's mistake.
      if (!cur.ShoalCA && !cur.ShoalRootSecret) throw new ApiError(500, 'the cluster object has no CA: join tokens cannot be rotated');
      const digest = tokenDigest(cur);
      tokens = {
        Worker: rotateWorker ? makeToken(digest) : tokens.Worker,
        Manager: rotateManager ? makeToken(digest) : tokens.Manager,
      };
    }
    // Raising CAConfig.ForceRotate (`docker swarm ca --rotate`) starts a root CA rotation (membership/ca-rotation.ts).
    let rotation: Pick<Cluster, 'ShoalCARotation'> = {};
    if ((spec.CAConfig?.ForceRotate ?? 0) > (cur.Spec.CAConfig?.ForceRotate ?? 0)) {
      if (cur.ShoalCARotation) throw new ApiError(409, `a CA rotation is in progress (step: ${cur.ShoalCARotation.Phase}); wait until GET /swarm shows RootRotationInProgress: false`);
      if (!cur.ShoalCA) throw unavailable('this cluster has no certificate authority to rotate');
      const root = await (await import('../../../wire/pki/x509.js')).createRootCa(cur.ID);
      const sealed = sealCa(cur.ID, { CertPem: root.certPem, KeyPem: root.keyPem }, ctx.dataKey?.() ?? null);
      rotation = { ShoalCARotation: beginCaRotation({ certPem: sealed.CertPem, keyPem: sealed.KeyPem }, ctx.now()) };
    }
    const next: Cluster = { ...cur, Spec: spec, JoinTokens: tokens, ...(rotateGossip ? rotateGossipKeys(cur, ctx.now()) : {}), ...rotation };
    await commitOps(ctx, [{ op: 'update', kind: 'cluster', object: next, expect: version }]);
    return {};
  });

  r.add('GET', '/swarm/unlockkey', async () => {
    theCluster(await readStore(ctx));
    return { body: { UnlockKey: '' } };
  });

  // A manager is in a swarm by construction; these exist so the CLI gets a clear answer.
  // dockerd answers 503 here too (no Retry-After: retrying will not help).
  r.add('POST', '/swarm/init', () => {
    throw new ApiError(503, ALREADY);
  });
  r.add('POST', '/swarm/join', () => {
    throw new ApiError(503, ALREADY);
  });
  r.add('POST', '/swarm/leave', () => {
    throw new ApiError(501, 'leaving is done from a manager: `shoal node rm <node>` (or `docker node rm`)');
  });
  r.add('POST', '/swarm/unlock', () => {
    throw new ApiError(501, 'this swarm is not locked: Shoal does not support autolock');
  });
}
