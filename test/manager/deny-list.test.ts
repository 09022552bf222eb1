/** The deny list keeps a removed node exactly as long as a certificate issued before its removal can be valid. */
import t from 'tap';
import { deniedNodes, denyRetentionMs, withRemovedNode } from '../../src/manager/membership/deny-list.js';
import type { Cluster } from '../../src/model/index.js';

t.test('entries live for the certificate lifetime, then go; re-removal refreshes', async (t) => {
  const c0 = { ID: 'c', Spec: { Name: 'default' } } as unknown as Cluster;
  const keep = denyRetentionMs(c0);
  t.equal(keep, 24 * 3600_000 + 5 * 60_000, 'default: 24 h certificates plus their 5 min backdating');
  const t0 = Date.parse('2026-12-04T00:00:00Z');
  const iso = (ms: number) => new Date(ms).toISOString();
  let c = withRemovedNode(c0, 'a', iso(t0));
  c = withRemovedNode(c, 'b', iso(t0 + 3600_000));
  t.same(deniedNodes(c, t0 + 3600_000), ['a', 'b']);
  t.same(deniedNodes(c, t0 + keep + 1), ['b'], 'a is past its retention');
  c = withRemovedNode(c, 'c', iso(t0 + keep + 1));
  t.same(c.ShoalRemovedNodes!.map((e) => e.ID), ['b', 'c'], 'expired entries are dropped from the store as new ones come');
  c = withRemovedNode(c, 'b', iso(t0 + keep + 2));
  t.same(c.ShoalRemovedNodes!.map((e) => e.ID), ['c', 'b'], 'one entry per node');
  const short = { ...c0, Spec: { Name: 'default', CAConfig: { NodeCertExpiry: 3600e9 } } } as unknown as Cluster;
  t.equal(denyRetentionMs(short), 3600_000 + 5 * 60_000, 'follows CAConfig.NodeCertExpiry');
  t.same(deniedNodes(undefined, t0), []);
});
