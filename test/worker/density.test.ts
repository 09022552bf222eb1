/**
 * Density holds: a single node — manager and worker in one, like
 * `shoal up --managers 1 --workers 0` — given 200 process tasks at once runs
 * them all and holds them: for 12 s after they are up, no task ends, none
 * is replaced, and the node never leaves 'ready'. (The node that once flapped
 * down every 12 s under 120 tasks and killed its own tasks in a loop.) How
 * fast and how much memory is `npm run bench:density`'s business; the time
 * is only printed here.
 */
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { sleepService } from '../helpers/sleep-service.js';
import { waitFor } from '../helpers/wait.js';

const N = 200;

t.test(`one node holds ${N} tasks`, async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const t0 = Date.now();
  const r = await sleepService(c, m1, 'dense', N);
  t.equal(r.status, 201, r.body);
  const { tasks } = r;
  await waitFor(async () => (await tasks()).filter((x) => x.Status.State === 'running').length === N, { timeoutMs: 180_000, intervalMs: 200, what: `${N} running` });
  t.comment(`${N} tasks running ${Date.now() - t0} ms after the create (not a benchmark: other tests load the machine)`);
  const ids = new Set((await tasks()).map((x) => x.ID));
  t.equal(ids.size, N, 'no task was replaced on the way up');

  const states = new Set<string>();
  const until = Date.now() + 12_000;
  while (Date.now() < until) {
    const n = (await c.http(m1, 'GET', '/nodes')).json<{ Status: { State: string } }[]>()[0]!;
    states.add(n.Status.State);
    await new Promise((res) => setTimeout(res, 250));
  }
  t.same([...states], ['ready'], 'the node never left ready');
  const after = await tasks();
  t.equal(after.length, N, 'no task was created or removed');
  t.ok(after.every((x) => ids.has(x.ID) && x.Status.State === 'running' && x.DesiredState === 'running'), `the same ${N} tasks, all running`);
});
