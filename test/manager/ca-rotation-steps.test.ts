/**
 * The steps of a root CA rotation (manager/membership/ca-rotation.ts) as
 * pure decisions: no step is taken while any ready node has not reported
 * its part; the last one swaps the CA and changes the join tokens.
 */
import t from 'tap';
import { createRootCa } from '../../src/wire/pki/x509.js';
import { advanceCaRotation, beginCaRotation, caTrustFrame, rootId, trustId } from '../../src/manager/membership/ca-rotation.js';
import { nodeSigner, trustedRoots } from '../../src/manager/membership/ca.js';
import { certDigest } from '../../src/wire/pki/identity.js';
import type { Cluster } from '../../src/model/index.js';

t.test('trust, then issue, then done: each only once every ready node has moved', async (t) => {
  const oldRoot = await createRootCa('c1');
  const newRoot = await createRootCa('c1');
  const base = { ID: 'c1', Spec: { Name: 'default' }, JoinTokens: { Worker: 'w', Manager: 'm' }, ShoalCA: { CertPem: oldRoot.certPem, KeyPem: oldRoot.keyPem } } as unknown as Cluster;
  t.same(caTrustFrame(base), { roots: [oldRoot.certPem], issuer: rootId(oldRoot.certPem) }, 'no rotation: one root, which signs');
  t.equal(advanceCaRotation(base, ['a'], []), null, 'nothing to advance without a rotation');

  const c1: Cluster = { ...base, ShoalCARotation: beginCaRotation(newRoot, '2026-12-04T00:00:00Z') };
  t.same(trustedRoots(c1), [oldRoot.certPem, newRoot.certPem], 'trust: both roots');
  t.equal(nodeSigner(c1).certPem, oldRoot.certPem, 'trust: the old root still signs');
  const both = trustId([oldRoot.certPem, newRoot.certPem]);
  t.equal(both, trustId([newRoot.certPem, oldRoot.certPem]), 'the trust ID does not depend on order');
  t.equal(advanceCaRotation(c1, ['a', 'b'], [{ nodeId: 'a', trustId: both }]), null, 'b has not reported');
  t.equal(advanceCaRotation(c1, ['a', 'b'], [{ nodeId: 'a', trustId: both }, { nodeId: 'b', trustId: trustId([oldRoot.certPem]) }]), null, 'b trusts only the old root');
  t.equal(advanceCaRotation(c1, [], []), null, 'no ready node: no step');
  const c2 = advanceCaRotation(c1, ['a', 'b'], [{ nodeId: 'a', trustId: both }, { nodeId: 'b', trustId: both }, { nodeId: 'down-node' }])!;
  t.equal(c2.ShoalCARotation?.Phase, 'issue', 'every ready node trusts both: issue');
  t.equal(nodeSigner(c2).certPem, newRoot.certPem, 'issue: the new root signs');
  t.equal(caTrustFrame(c2)?.issuer, rootId(newRoot.certPem));

  t.equal(advanceCaRotation(c2, ['a', 'b'], [{ nodeId: 'a', issuerId: rootId(newRoot.certPem) }, { nodeId: 'b', issuerId: rootId(oldRoot.certPem) }]), null, 'b still holds an old certificate');
  const c3 = advanceCaRotation(c2, ['a', 'b'], [{ nodeId: 'a', issuerId: rootId(newRoot.certPem) }, { nodeId: 'b', issuerId: rootId(newRoot.certPem) }])!;
  t.equal(c3.ShoalCARotation, undefined, 'done');
  t.equal(c3.ShoalCA?.CertPem, newRoot.certPem, 'the new root is the CA');
  t.same(trustedRoots(c3), [newRoot.certPem], 'and the only root trusted');
  t.ok(c3.JoinTokens.Worker.startsWith(`SWMTKN-1-${certDigest(newRoot.certPem)}-`), 'the join tokens pin the new root');
});
