import t from 'tap';
import { TestCluster } from './driver-cluster.js';
import { waitFor } from '../helpers/wait.js';

const ids = ['m1', 'm2', 'm3'];

async function founded(raft = {}) {
  const c = new TestCluster(raft);
  await c.reservePorts(ids);
  for (const id of ids) await c.start(id, { founding: ids, peers: ids });
  return c;
}

t.test('a node whose log tail was damaged refuses votes until it has fetched the tail again', async (t) => {
  const c = await founded();
  t.teardown(() => c.close());
  const leader = await c.leader();
  for (let i = 0; i < 30; i++) await c.put(leader, `d${i}`, `${i}`);
  const victim = [...c.members.values()].find((m) => m !== leader)!;
  await waitFor(() => victim.sm.get('d29') === '29', { what: 'victim applied everything' });
  const last = victim.driver.status().lastIndex;
  await c.stop(victim.id);
  // Damage the tail behind sqlite's back (bit rot in the last few entries).
  const { RaftStorage } = await import('../../src/raft/storage.js');
  const s = await RaftStorage.open(c.dataPath(victim.id));
  await s.database.run('UPDATE entries SET data = ? WHERE idx > ?', [Buffer.from('rot'), last - 5]);
  await s.close();
  // Keep it away from the leader while it boots, so we can look at the guard.
  c.faults.partition([victim.id], [leader.id]);
  const back = await c.start(victim.id, { peers: ids });
  t.equal(back.driver.status().recovering, true, 'booted in recovery');
  t.ok(back.driver.status().lastIndex < last, 'the damaged tail was cut');
  // A vote request arriving now is refused outright.
  const { WsTransport } = await import('../../src/wire/ws-transport.js');
  const { RaftWire } = await import('../../src/raft/transport.js');
  const other = [...c.members.values()].find((m) => m !== back && m !== leader)!;
  const probe = new WsTransport({ nodeId: other.id });
  const conn = await probe.connect(back.address);
  conn.send(RaftWire, { type: 'vote', from: other.id, to: back.id, term: 99, pre: false, lastIndex: 1, lastTerm: 1, transfer: false });
  await waitFor(() => back.driver.metrics.dropped['recovering-no-vote'] === 1, { what: 'vote refused' });
  await probe.close();
  c.faults.heal();
  // The leader still believes the victim holds what it once acknowledged; the
  // next append's consistency check exposes the gap and the tail is re-sent.
  await c.put(leader, 'after-heal', 'x');
  await waitFor(() => !back.driver.status().recovering, { what: 'guard lifted after catching up' });
  t.ok(back.driver.status().lastIndex >= last);
  t.equal(back.sm.get('d29'), '29', 'the cut entries came back from the leader');
});
