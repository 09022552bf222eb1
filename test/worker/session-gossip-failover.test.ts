import t from 'tap';
import { ManagerCluster, nextHost } from '../manager/harness.js';
import { waitFor } from '../helpers/wait.js';
import { SessionClient } from '../../src/worker/agent/session.js';
import { WsTransport } from '../../src/wire/ws-transport.js';
import type { MemberRecord } from '../../src/gossip/interface.js';
import { aliveManagerAddrs } from '../../src/node/gossip-managers.js';

/**
 * A worker joined a one-manager cluster, so its join reply and its session
 * frame name only that manager. Two managers join later; then the first one
 * stops. The worker fails over to one of the later managers, known to it only
 * from the gossip member list (a fake member provider here; the daemon wires
 * the real GossipDriver.members() through the same aliveManagerAddrs). A
 * worker without the provider stays cut off — the gap this closes.
 */
function member(id: string, clusterAddr: string, role: 'manager' | 'worker', state: MemberRecord['state']): MemberRecord {
  return { id, addr: clusterAddr, clusterAddr, role, state, incarnation: 1, stateChangeMs: 0, meta: { resources: { nanoCpus: 1e9, memoryBytes: 2 ** 30 }, labels: {} } };
}

t.test('aliveManagerAddrs: alive managers only, by cluster address', async (t) => {
  t.same(
    aliveManagerAddrs([
      member('a', '10.0.0.1:4242', 'manager', 'alive'),
      member('b', '10.0.0.2:4242', 'manager', 'suspect'),
      member('c', '10.0.0.3:4242', 'manager', 'dead'),
      member('d', '10.0.0.4:4242', 'manager', 'left'),
      member('e', '10.0.0.5:4242', 'worker', 'alive'),
      { ...member('f', '10.0.0.6:9999', 'manager', 'alive'), clusterAddr: '10.0.0.6:4242' },
    ]),
    ['10.0.0.1:4242', '10.0.0.6:4242'],
  );
});

t.test('a worker whose only known manager is gone fails over to a manager learned from gossip', async (t) => {
  // The test's premise is that both sessions opened before m2 and m3 joined
  // stay open until m1 stops: a session reopened later gets a session frame
  // naming m2 and m3, and the worker learns them without gossip. The
  // harness's 200 ms heartbeat (400 ms request timeout) can lapse on a loaded
  // machine, where this process hosts three Raft managers and two agents;
  // the default 1 s (2 s timeout) does not.
  const c = new ManagerCluster({ dispatcher: { heartbeatMs: 1_000 } });
  t.teardown(() => c.close());
  const m1 = await c.found();
  await c.leader();
  const m1Id = m1.status().nodeId;
  const m1Addr = c.managers.get(m1Id)!.addr;

  let members: MemberRecord[] = [member(m1Id, m1Addr, 'manager', 'alive')];
  const workers = await Promise.all(
    [true, false].map(async (gossip) => {
      const id = m1.newId();
      const tr = new WsTransport({ nodeId: id });
      t.teardown(() => tr.close());
      const addr = await tr.listen({ host: nextHost(), port: 0 });
      const r = await c.join(c.tokens(m1).Worker, id, addr);
      const s = new SessionClient({
        transport: tr,
        nodeId: id,
        description: { hostname: id, os: 'linux', arch: 'x86_64', nanoCpus: 1e9, memoryBytes: 2 ** 30, labels: {}, runtimes: ['process'], engineVersion: 't', clusterAddr: addr, gossipAddr: addr },
        managers: r.managers.map((m) => m.addr),
        ...(gossip ? { discoverManagers: () => aliveManagerAddrs(members) } : {}),
        onAssignments: () => {},
      });
      t.teardown(() => s.stop());
      s.start();
      return { id, addr, s };
    }),
  );
  const [w, control] = workers as [(typeof workers)[0], (typeof workers)[0]];
  await waitFor(() => w.s.connectedTo === m1Addr && control.s.connectedTo === m1Addr, { what: 'both workers in session with m1' });
  t.same(w.s.knownManagers, [m1Addr], 'the join reply and the session name only m1');

  const m2 = await c.joinManager();
  const m3 = await c.joinManager();
  // m1 counts m3 a voter the moment it appends the promotion to its own log
  // (Raft switches configuration at append, not at commit), before it has
  // sent it: while a persist is in flight the next append waits for it, and
  // stopping m1 then drops it. If m2 never got that entry, the configuration
  // m2 knows, {m1, m2}, has lost its quorum: no leader is ever elected, and no
  // manager accepts the worker's session. A slow fsync (a fresh machine, a
  // loaded one) makes that window wide, so wait until every manager's own
  // configuration has the three voters.
  await waitFor(() => [m1, m2, m3].every((m) => m.status().managers.filter((x) => x.voter).length === 3), { what: "three voters in every manager's configuration" });
  await waitFor(() => [m2, m3].every((m) => m.store.get('node', w.id) !== undefined), { what: 'the later managers replicate the worker' });
  const later = [m2, m3].map((m) => c.managers.get(m.status().nodeId)!.addr);
  members = [...members, member(m2.status().nodeId, later[0]!, 'manager', 'alive'), member(m3.status().nodeId, later[1]!, 'manager', 'alive'), member(w.id, w.addr, 'worker', 'alive')];
  t.same(w.s.knownManagers, [m1Addr], 'the open session told the worker nothing of the later managers');
  t.same(control.s.knownManagers, [m1Addr], 'nor the other worker');

  await c.stopManager(m1Id);
  members = members.map((m) => (m.id === m1Id ? { ...m, state: 'dead' } : m));
  await waitFor(() => w.s.connectedTo !== null && later.includes(w.s.connectedTo), { timeoutMs: 20_000, what: 'the worker in session with a later manager' });
  t.pass(`the worker failed over to ${w.s.connectedTo}, learned from gossip`);
  const leader = await c.leader();
  await waitFor(() => leader.store.get('node', w.id)?.Status.State === 'ready', { timeoutMs: 10_000, what: 'the worker ready under the new leader' });
  t.ok(w.s.knownManagers.includes(later[0]!) && w.s.knownManagers.includes(later[1]!), 'both later managers are candidates now');
  t.equal(control.s.connectedTo, null, 'without the gossip members, the other worker is still cut off');
  t.same(control.s.knownManagers, [m1Addr]);
});
