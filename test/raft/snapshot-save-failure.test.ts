/**
 * A snapshot that cannot be saved (disk full while writing the image) must
 * not end the node: the driver's loop handles the failure, the node stops
 * leading while it cannot write, counts and logs it, and recovers once
 * writes work again. The cluster keeps serving meanwhile.
 */
import t from 'tap';
import { TestCluster, type Member } from './driver-cluster.js';
import { waitFor } from '../helpers/wait.js';
import { retry } from '../../src/util/retry.js';
import { recordingLogger } from '../helpers/logs.js';

const ids = ['m1', 'm2', 'm3'];

/** A put through whichever member leads now, retried while leadership moves. */
function putAnywhere(c: TestCluster, key: string, value: string): Promise<unknown> {
  return retry(
    async () => {
      const leader = [...c.members.values()].find((m) => m.driver.isLeader);
      if (!leader) throw new Error('no leader yet');
      return c.put(leader, key, value);
    },
    { what: `put ${key}`, deadlineMs: 20_000, retryable: () => true, backoff: { initialMs: 20, maxMs: 200 } },
  );
}

t.test('a leader whose snapshot save fails (disk full) stays up, stops leading, and recovers', async (t) => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => void process.off('unhandledRejection', onUnhandled));

  const logs = new Map<string, string[]>();
  const c = new TestCluster({ snapshotEveryEntries: 20, keepEntries: 5 });
  t.teardown(() => c.close());
  await c.reservePorts(ids);
  for (const id of ids) {
    const lines: string[] = [];
    logs.set(id, lines);
    await c.start(id, { founding: ids, peers: ids, driver: { log: recordingLogger((r) => lines.push(r.msg)).log } });
  }
  const leader: Member = await c.leader();
  const storage = (leader.driver as unknown as { storage: { saveSnapshot: (...a: unknown[]) => Promise<void> } }).storage;
  const save = storage.saveSnapshot.bind(storage);
  let diskFull = true;
  let failedSaves = 0;
  storage.saveSnapshot = async (...a: unknown[]) => {
    if (diskFull) {
      failedSaves++;
      throw Object.assign(new Error('SQLITE_FULL: database or disk is full'), { code: 'SQLITE_FULL', errno: 13 });
    }
    return save(...a);
  };

  // Enough writes to make every member snapshot: the leader's save fails.
  for (let i = 0; i < 30; i++) await putAnywhere(c, `k${i}`, `v${i}`);
  await waitFor(() => failedSaves > 0 && leader.driver.metrics.snapshotErrors > 0, { what: 'the leader tried to save a snapshot and failed' });
  await waitFor(() => !leader.driver.isLeader, { what: 'the leader that cannot write steps back' });
  t.equal(leader.driver.storageHealthy, false, 'its storage reports failing');
  t.ok(
    logs.get(leader.id)!.some((l) => l.includes('saving the snapshot') && l.includes('SQLITE_FULL')),
    'the failure is logged, with its cause',
  );

  const next = await waitFor(() => [...c.members.values()].find((m) => m !== leader && m.driver.isLeader), { what: 'a new leader elsewhere' });
  t.equal(await c.put(next, 'during', 'served'), 'served', 'the cluster takes writes meanwhile');

  diskFull = false;
  await waitFor(() => leader.driver.storageHealthy && leader.driver.metrics.snapshotsTaken >= 1, { what: 'the snapshot is saved once the disk works' });
  await waitFor(() => leader.sm.get('during') === 'served', { what: 'the old leader catches up' });
  t.equal(await putAnywhere(c, 'after', 'ok'), 'ok', 'and the cluster still serves');
  await waitFor(() => leader.sm.get('after') === 'ok', { what: 'the recovered node applies new writes' });
  t.same(unhandled, [], 'no unhandled rejection');
});
