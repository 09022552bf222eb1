/**
 * A field the node's default runtime would drop rejects the task, with the
 * reason in `service ps` (model/runtime-support.ts): one node, its default
 * runtime process, a service that names no runtime but asks for a hostname
 * (a process task shares the node's). The API cannot refuse it: the runtime
 * is only known on the node.
 */
import t from 'tap';
import { ProcCluster } from '../helpers/procs.js';
import { waitFor } from '../helpers/wait.js';
import { shoalProcess } from '../cli/helpers.js';

t.test('the default runtime rejects what it would drop', async (t) => {
  const c = new ProcCluster();
  t.teardown(() => c.close());
  const m1 = await c.init();
  const host = `unix://${m1.dataDir}/api.sock`;
  const r = await shoalProcess(['service', 'create', '-d', '--name', 'named', '--hostname', 'box', '--', 'sleep', '60'], { host });
  t.equal(r.code, 0, r.err);
  const row = await waitFor(
    async () => {
      const ps = await shoalProcess(['service', 'ps', '--no-trunc', '--format', 'json', 'named'], { host });
      return ps.out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { CurrentState: string; Error: string }).find((x) => /^Rejected/.test(x.CurrentState)) ?? null;
    },
    { timeoutMs: 20_000, what: 'the task rejected' },
  );
  t.match(row.Error, /ContainerSpec\.Hostname is not supported by the process runtime/, row.Error);
});
