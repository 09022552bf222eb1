/**
 * How `shoal service create` turns its command line into Image and Args,
 * through the real option parsing (main(), in-process) against a fake API
 * that records the spec it is sent: docker's IMAGE [COMMAND] [ARG...] for
 * every runtime, `--` only ending shoal's own options, and options after
 * IMAGE belonging to the task's command.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import type { ServiceSpec } from '../../src/model/index.js';
import { oneLineError, shoalInProcess as shoal } from './helpers.js';

t.test('positionals and `--` map to Image and Args as in docker', async (t) => {
  const sent: ServiceSpec[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += String(c)));
    req.on('end', () => {
      if (req.method === 'POST' && /\/services\/create$/.test((req.url ?? '').split('?')[0]!)) {
        sent.push(JSON.parse(body) as ServiceSpec);
        res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ ID: `svc${sent.length}` }));
        return;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `no route ${req.method} ${req.url}` }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const create = async (...args: string[]) => {
    const before = sent.length;
    const r = await shoal('-H', host, 'service', 'create', '-d', ...args);
    t.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    t.equal(sent.length, before + 1, `${args.join(' ')}: one create`);
    return sent[sent.length - 1]!.TaskTemplate;
  };

  const sleep300 = { Image: 'sleep', Args: ['300'] };
  // The case: no --runtime, `--` before the command.
  t.same((await create('--name', 'demo', '--replicas', '3', '--', 'sleep', '300')).ContainerSpec, sleep300, '-- sleep 300');
  t.same((await create('sleep', '300')).ContainerSpec, sleep300, 'sleep 300');
  for (const form of [['sleep', '300'], ['--', 'sleep', '300']]) {
    const tt = await create('--runtime', 'process', ...form);
    t.same(tt.ContainerSpec, sleep300, `--runtime process ${form.join(' ')}`);
    t.equal(tt.Runtime, 'process');
  }
  // After IMAGE everything is the task's, flags and a later `--` included (docker's pflag does the same).
  t.same((await create('busybox', 'sh', '-c', 'echo hi', '--name', 'x')).ContainerSpec, { Image: 'busybox', Args: ['sh', '-c', 'echo hi', '--name', 'x'] });
  t.same((await create('busybox', '--', 'sleep', '1')).ContainerSpec, { Image: 'busybox', Args: ['--', 'sleep', '1'] });
  t.same((await create('--entrypoint', 'sleep', 'busybox', '5')).ContainerSpec, { Image: 'busybox', Command: ['sleep'], Args: ['5'] }, '--entrypoint sets Command');

  const none = await shoal('-H', host, 'service', 'create', '-d', '--runtime', 'process', '--');
  t.equal(oneLineError(none), null);
  t.match(none.err, /needs an IMAGE: .*the program/);
});
