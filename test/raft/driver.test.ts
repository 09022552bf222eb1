import t from 'tap';
import { TestCluster } from './driver-cluster.js';
import { waitFor } from '../helpers/wait.js';
import { RaftError } from '../../src/raft/errors.js';
import { encodeKvCommand } from '../../src/raft/kv-state-machine.js';
import { retry } from '../../src/util/retry.js';

const ids = ['m1', 'm2', 'm3'];

async function founded(raft = {}) {
  const c = new TestCluster(raft);
  await c.reservePorts(ids);
  for (const id of ids) await c.start(id, { founding: ids, peers: ids });
  return c;
}

t.test('writes commit on a quorum and apply everywhere; followers forward; reads are linearizable', async (t) => {
  const c = await founded();
  t.teardown(() => c.close());
  const leader = await c.leader();
  t.equal(await c.put(leader, 'a', '1'), '1', 'the proposer gets the state machine result');
  const follower = [...c.members.values()].find((m) => m !== leader)!;
  t.equal(await c.append(follower, 'a', '2'), '12', 'a follower forwards to the leader and resolves on apply');
  await follower.driver.readBarrier();
  t.equal(follower.sm.get('a'), '12', 'after a read barrier the follower reflects every committed write');
  const writes = [];
  for (let i = 0; i < 200; i++) writes.push(c.append([...c.members.values()][i % 3]!, 'log', `${i % 10}`));
  await Promise.all(writes);
  await waitFor(() => [...c.members.values()].every((m) => m.sm.get('log')?.length === 200), { what: 'all applied' });
  const logs = [...c.members.values()].map((m) => m.sm.get('log'));
  t.ok(logs.every((l) => l === logs[0]), 'every node applied the same sequence');
  t.ok(leader.driver.storageMetrics.persists > 0 && leader.driver.storageMetrics.persists < 200, `group commit: ${leader.driver.storageMetrics.persists} fsynced transactions for 200 writes`);
});

t.test('leader failure: a new leader takes writes; the old one restarts from sqlite and catches up', async (t) => {
  const c = await founded();
  t.teardown(() => c.close());
  const leader = await c.leader();
  for (let i = 0; i < 20; i++) await c.put(leader, `k${i}`, `v${i}`);
  await c.stop(leader.id);
  const next = await c.leader();
  t.not(next.id, leader.id, `new leader ${next.id}`);
  t.equal(await c.put(next, 'after', 'failover'), 'failover');
  await c.start(leader.id, { peers: ids });
  const back = c.members.get(leader.id)!;
  await waitFor(() => back.sm.get('after') === 'failover', { what: 'restarted node catches up' });
  t.equal(back.sm.get('k19'), 'v19', 'its own earlier writes came back from its log');
});

t.test('snapshots: compaction, restart from a snapshot, and a new member fed by InstallSnapshot', async (t) => {
  const c = await founded({ snapshotEveryEntries: 50, keepEntries: 10, snapshotChunkBytes: 256 });
  t.teardown(() => c.close());
  let leader = await c.leader();
  for (let i = 0; i < 150; i++) await c.put(leader, `key${i}`, 'x'.repeat(20));
  await waitFor(() => [...c.members.values()].every((m) => m.driver.metrics.snapshotsTaken >= 2), { what: 'every node snapshotted' });
  // A restart now boots from the snapshot plus the log tail.
  const f = [...c.members.values()].find((m) => m !== leader)!;
  await c.stop(f.id);
  const f2 = await c.start(f.id, { peers: ids });
  await waitFor(() => f2.sm.get('key149') === 'x'.repeat(20), { what: 'restarted from snapshot' });
  t.equal(f2.sm.size, 150);
  // A brand-new node joins as a learner, gets the snapshot in chunks, is promoted.
  await c.reservePorts(['m4']);
  const n4 = await c.start('m4', { peers: ids });
  leader = await c.leader();
  await leader.driver.addLearner('m4', `127.0.0.1:${n4.port}`);
  await waitFor(() => n4.sm.size === 150, { what: 'learner caught up via snapshot' });
  t.ok(n4.driver.metrics.snapshotsRestored >= 1, 'the learner restored a snapshot');
  await leader.driver.addVoter('m4');
  await waitFor(() => leader.driver.status().conf.voters.includes('m4'), { what: 'm4 promoted' });
  t.equal(await c.put(leader, 'with4', 'yes'), 'yes');
  await waitFor(() => n4.sm.get('with4') === 'yes', { what: 'm4 applies new writes' });
});

t.test('leadership transfer, and a minority cannot commit', async (t) => {
  const c = await founded();
  t.teardown(() => c.close());
  const leader = await c.leader();
  const target = [...c.members.values()].find((m) => m !== leader)!;
  await leader.driver.transferLeadership(target.id);
  t.equal((await c.leader()).id, target.id, 'leadership moved');
  // Isolate the new leader: it can no longer commit, and the other two elect a leader.
  c.faults.isolate(target.id);
  const lost = target.driver.propose(encodeKvCommand({ op: 'put', key: 'minority', value: 'no' }), 1_500).then(
    () => 'committed',
    (e: Error) => (e instanceof RaftError ? e.code : (e as { code?: string }).code ?? e.message),
  );
  const others = [...c.members.values()].filter((m) => m !== target);
  const newLeader = await waitFor(() => others.find((m) => m.driver.isLeader), { what: 'majority elects a leader' });
  t.equal(await c.put(newLeader, 'majority', 'yes'), 'yes');
  t.not(await lost, 'committed', 'the isolated leader never acknowledged its write');
  c.faults.heal();
  await waitFor(() => target.sm.get('majority') === 'yes', { what: 'healed node catches up' });
  t.equal(target.sm.get('minority'), undefined, 'the unacknowledged write never appeared');
});

t.test('a network that duplicates every frame: forwarded proposals still apply exactly once', async (t) => {
  const c = await founded({ snapshotEveryEntries: 40, keepEntries: 5 });
  t.teardown(() => c.close());
  const leader = await c.leader();
  c.faults.setAll({ duplicate: 1 });
  const follower = [...c.members.values()].find((m) => m !== leader)!;
  // Under load an election can leave the follower without a leader for a moment: a proposal it
  // refuses then (NOT_LEADER, no leader known) was never sent anywhere, so retrying it keeps "once".
  const refusedHere = (err: unknown) => err instanceof RaftError && err.code === 'NOT_LEADER' && err.leaderId === null;
  for (let i = 0; i < 60; i++) await retry(() => c.append(follower, 'once', 'x'), { what: 'append', deadlineMs: 20_000, retryable: refusedHere });
  c.faults.clear();
  await waitFor(() => [...c.members.values()].every((m) => m.sm.get('once')?.length === 60), { what: 'all applied 60 appends' });
  t.ok(follower.driver.metrics.dropped['duplicate-proposal'] ?? leader.driver.metrics.dropped['duplicate-proposal'], 'duplicates were seen and skipped');
  // The dedup table travels in snapshots: a node restarted from one agrees.
  await c.stop(follower.id);
  const back = await c.start(follower.id, { peers: ids });
  await waitFor(() => back.sm.get('once')?.length === 60, { what: 'restarted node rebuilt the same state' });
  t.equal(await c.append(back, 'once', 'y'), 'x'.repeat(60) + 'y', 'and new proposals apply once');
});

t.test('a leader whose disk fails stops leading at once, refuses proposals, and rejoins when writes work again', async (t) => {
  const c = await founded();
  t.teardown(() => c.close());
  const leader = await c.leader();
  await c.put(leader, 'before', '1');
  const storage = (leader.driver as unknown as { storage: { persist: (...a: unknown[]) => Promise<void> } }).storage;
  const persist = storage.persist.bind(storage);
  let diskFull = true;
  storage.persist = async (...a: unknown[]) => {
    if (diskFull) throw new Error('SQLITE_FULL: database or disk is full');
    return persist(...a);
  };
  // Anything that makes a Ready to persist trips it: a write.
  const stuck = c.put(leader, 'during', 'x').catch((e: Error) => e);
  await waitFor(() => !leader.driver.isLeader, { what: 'the stalled leader steps back' });
  t.equal(leader.driver.storageHealthy, false);
  await t.rejects(c.put(leader, 'refused', 'x'), { code: 'STORAGE_FAILING' }, 'proposals fail fast instead of timing out');
  const next = await waitFor(() => [...c.members.values()].find((m) => m !== leader && m.driver.isLeader), { what: 'a new leader elsewhere' });
  t.equal(await c.put(next, 'after', '2'), '2', 'the cluster takes writes meanwhile');
  diskFull = false;
  await waitFor(() => leader.driver.storageHealthy && leader.sm.get('after') === '2', { what: 'the old leader catches up once its disk works' });
  t.ok(!leader.driver.isLeader || leader.driver.status().term > 2, 'and does not lead on a stale view');
  void stuck;
});
