/**
 * The CLI refuses replica counts beyond MAX_REPLICAS (`--replicas`,
 * `service scale`) with one line and exit 1, before asking the API (which
 * refuses them too: test/api/replicas-limit.test.ts). Against a real API
 * server over a FakeContext.
 */
import t from 'tap';
import { MAX_REPLICAS } from '../../src/model/index.js';
import { startApi } from '../api/helpers.js';
import { oneLineError, shoalInProcess as shoal } from './helpers.js';

t.test('--replicas and service scale beyond the limit: one line, exit 1, nothing changed', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const host = `http://127.0.0.1:${api.port}`;

  for (const n of [String(2 ** 53), '1000000000000000', String(MAX_REPLICAS + 1)]) {
    const r = await shoal('--host', host, 'service', 'create', '-d', '--name', 'web', '--replicas', n, 'busybox');
    t.equal(oneLineError(r), null, `--replicas ${n}: one line, exit 1`);
    t.equal(r.out, '');
    if (n === String(MAX_REPLICAS + 1)) t.equal(r.err, `shoal: invalid value for --replicas: ${n} is more than ${MAX_REPLICAS}, the most tasks one service may have\n`);
  }
  for (const n of ['-1', '1.5']) {
    const r = await shoal('--host', host, 'service', 'create', '-d', '--name', 'web', '--replicas', n, 'busybox');
    t.equal(oneLineError(r), null, `--replicas ${n}: one line, exit 1`);
  }
  t.equal(api.ctx.store.count('service'), 0, 'no service was created');

  const created = await shoal('--host', host, 'service', 'create', '-d', '--name', 'web', '--replicas', '2', 'busybox');
  t.equal(created.code, 0, `a sane count works (${created.err})`);
  const id = api.ctx.store.list('service')[0]!.ID;
  const scaled = await shoal('--host', host, 'service', 'scale', '-d', 'web=1000000');
  t.equal(oneLineError(scaled), null, 'scale beyond the limit: one line, exit 1');
  t.match(scaled.err, /^shoal: invalid value for the replicas of web: 1000000 is more than 100000, the most tasks one service may have\n$/);
  t.equal(api.ctx.store.get('service', id)!.Spec.Mode.Replicated?.Replicas, 2, 'the service kept its count');
  const ok = await shoal('--host', host, 'service', 'scale', '-d', 'web=4');
  t.equal(ok.code, 0, `a sane scale works (${ok.err})`);
  t.equal(api.ctx.store.get('service', id)!.Spec.Mode.Replicated?.Replicas, 4);
});
