import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Real processes: a worker joins a one-manager cluster, so the join reply and
 * its session name only that manager (n1). Two managers join afterwards. When
 * n1 is killed, the worker's only known manager is gone: it must find n3 or n4
 * in its gossip member list and hold its session with the new leader there.
 */
t.test('a worker fails over to a manager it knows only from gossip', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const w = await c.join('worker', m1);
  const m2 = await c.join('manager', m1);
  const m3 = await c.join('manager', m1);
  const nodes = async (via = m1) => (await c.http(via, 'GET', '/nodes')).json<{ Description: { Hostname: string }; Status: { State: string }; ManagerStatus?: { Reachability: string } }[]>();
  // Every manager must see three voters, not just n1: n1 counts a promotion as soon as it is in its own
  // log, and killing it before the others have the entry would leave them two voters short of a quorum.
  for (const m of [m1, m2, m3]) {
    await waitFor(async () => (await nodes(m)).filter((n) => n.ManagerStatus?.Reachability === 'reachable').length === 3, { timeoutMs: 30_000, what: `three reachable managers as ${m.name} sees them` });
  }
  await waitFor(async () => (await nodes()).find((n) => n.Description.Hostname === w.name)?.Status.State === 'ready', { timeoutMs: 20_000, what: 'the worker ready' });
  const sessionLine = (addr: string) => `agent session with manager ${addr}`;
  t.ok(w.stderr.includes(sessionLine(`${m1.host}:${m1.port}`)), 'the worker holds its session with n1');
  const later = [m2, m3].map((m) => `${m.host}:${m.port}`);
  t.notOk(later.some((a) => w.stderr.includes(sessionLine(a))), 'and never had one with n3 or n4');
  // Let gossip tell the worker of the later managers.
  await new Promise((r) => setTimeout(r, 2_000));

  await c.kill(m1);
  const to = await waitFor(() => later.find((a) => w.stderr.includes(sessionLine(a))), { timeoutMs: 20_000, what: 'a session with a later manager' }).catch(() => undefined);
  t.ok(to, `the worker failed over to ${to ?? 'nothing'}`);
  if (to) {
    t.match(w.stderr, /discovered managers? /, 'it learned of them from gossip');
    const leader = await c.leader();
    t.equal(`${leader.host}:${leader.port}`, to, 'the session is with the new leader');
    await waitFor(async () => (await nodes(leader)).find((n) => n.Description.Hostname === w.name)?.Status.State === 'ready', { timeoutMs: 15_000, what: 'the worker ready under the new leader' });
    t.pass('the worker is ready under the new leader');
  }
  if (!t.passing()) t.comment(c.logs());
});
