/**
 * The failure contract, in-process through main(): every error is one
 * `shoal: …` line on stderr and exit code 1 — usage errors, bad values,
 * an unreachable manager, the API's own messages. A small fake API stands
 * in for a manager where a real cluster is not needed (and for service
 * logs, which the real API does not serve yet).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { oneLineError, shoalInProcess as shoal } from './helpers.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function fakeApi(t: Test, routes: Record<string, Handler>): Promise<string> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').replace(/^\/v1\.\d+/, '').split('?')[0]!;
    const h = routes[`${req.method} ${path}`];
    if (h) return h(req, res);
    res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `no route ${req.method} ${path}` }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const json = (status: number, body: unknown): Handler => (_req, res) => res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));

const service = { ID: 'svc1234567890', Version: { Index: 5 }, Spec: { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } }, Mode: { Replicated: { Replicas: 1 } } } };

t.test('usage errors and bad values: one line, exit 1', async (t) => {
  for (const args of [
    ['service', 'create', '--bogus', 'x'],
    ['node', 'frobnicate'],
    ['service', 'create', '-d', '--reserve-memory', '12Q', 'busybox'],
    ['service', 'create', '-d', '--publish', '80:99999', 'busybox'],
    ['service', 'create', '-d', '--mount', 'type=bind,target=/x', 'busybox'],
    ['service', 'create', '-d', '--runtime', 'lxc', 'busybox'],
    ['service', 'create', '-d'],
    ['service', 'scale', 'web'],
    ['node', 'ls', '--format', '{{.ID}}'],
    ['node', 'update', 'n1'],
    ['join-token', 'admin'],
    ['--host', 'http://a b', 'node', 'ls'],
  ]) {
    const r = await shoal(...args);
    t.equal(oneLineError(r), null, args.join(' '));
    t.equal(r.out, '', `${args.join(' ')}: nothing on stdout`);
  }
  t.match((await shoal('service', 'create', '-d', '--reserve-memory', '12Q', 'busybox')).err, /^shoal: invalid value for --reserve-memory: invalid size "12Q"/);
  t.match((await shoal('service', 'create', '--bogus', 'x')).err, /^shoal: unknown option '--bogus'/);
  t.match((await shoal('service', 'scale', 'web')).err, /invalid scale specifier "web": use SERVICE=REPLICAS/);
});

t.test('an unreachable manager', async (t) => {
  let r = await shoal('--host', 'http://127.0.0.1:1', 'node', 'ls');
  t.equal(oneLineError(r), null);
  t.equal(r.err, 'shoal: cannot reach the Shoal API at http://127.0.0.1:1: is the cluster up? (shoal up)\n');
  r = await shoal('--host', 'unix:///nonexistent/shoal/api.sock', 'node', 'ls');
  t.equal(r.err, 'shoal: cannot reach the Shoal API at unix:///nonexistent/shoal/api.sock: is the cluster up? (shoal up)\n', 'a unix socket that is not there');
  r = await shoal('--host', 'unix://relative/api.sock', 'node', 'ls');
  t.match(r.err, /^shoal: invalid API address "unix:\/\/relative\/api.sock": a unix socket needs an absolute path/);
  const saved = { host: process.env.SHOAL_HOST, certs: process.env.SHOAL_CERT_PATH };
  t.teardown(() => {
    for (const [k, v] of [['SHOAL_HOST', saved.host], ['SHOAL_CERT_PATH', saved.certs]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  process.env.SHOAL_HOST = 'tcp://127.0.0.1:1';
  process.env.SHOAL_CERT_PATH = '/nonexistent/shoal-certs';
  r = await shoal('service', 'ls');
  t.equal(oneLineError(r), null);
  t.equal(r.err, 'shoal: /nonexistent/shoal-certs (from SHOAL_CERT_PATH) does not hold ca.pem, cert.pem and key.pem\n', 'TCP is TLS: a certificate path without a bundle is named');
});

t.test("the API's message, on one line", async (t) => {
  const host = await fakeApi(t, {
    'GET /services/nope': json(404, { message: 'service nope not found' }),
    'GET /services/web': json(200, service),
    'POST /services/svc1234567890/update': json(409, { message: 'update out of sequence:\n  service is at version 6' }),
    'GET /services/svc1234567890/logs': json(501, { message: 'service logs are not available yet in Shoal' }),
    'GET /nodes': (_q, res) => res.writeHead(500).end('<html>oops</html>'),
  });
  let r = await shoal('-H', host, 'service', 'inspect', 'nope');
  t.equal(r.err, 'shoal: service nope not found\n');
  t.equal(r.code, 1);
  r = await shoal('-H', host, 'service', 'update', '-d', '--image', 'x', 'web');
  t.equal(oneLineError(r), null);
  t.equal(r.err, 'shoal: update out of sequence: service is at version 6\n', 'retried, then reported on one line');
  r = await shoal('-H', host, 'service', 'logs', 'web');
  t.equal(r.err, 'shoal: service logs are not available yet in Shoal\n', "a 501 from the logs endpoint shows the API's message");
  t.equal(r.code, 1);
  r = await shoal('-H', host, 'node', 'ls');
  t.equal(oneLineError(r), null);
  t.equal(r.err, 'shoal: <html>oops</html>\n');
});

t.test('service logs: multiplexed and raw streams, with task prefixes', async (t) => {
  const frame = (stream: number, s: string) => {
    const b = Buffer.from(s);
    const h = Buffer.alloc(8);
    h[0] = stream;
    h.writeUInt32BE(b.length, 4);
    return Buffer.concat([h, b]);
  };
  let tty = false;
  let query = '';
  const host = await fakeApi(t, {
    'GET /services/web': (_q, res) => json(200, tty ? { ...service, Spec: { ...service.Spec, TaskTemplate: { ContainerSpec: { Image: 'busybox', TTY: true } } } } : service)(_q, res),
    'GET /tasks': json(200, [{ ID: 'task1234567890abc', Name: 'web.1', NodeID: 'node1', Slot: 1, ServiceID: service.ID }]),
    'GET /nodes': json(200, [{ ID: 'node1', Spec: {}, Description: { Hostname: 'worker1' } }]),
    'GET /services/svc1234567890/logs': (req, res) => {
      query = req.url ?? '';
      if (tty) {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
        res.end('com.docker.swarm.node.id=node1,com.docker.swarm.service.id=svc1234567890,com.docker.swarm.task.id=task1234567890abc raw line\n');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
      res.write(frame(1, 'com.docker.swarm.node.id=node1,com.docker.swarm.service.id=svc1234567890,com.docker.swarm.task.id=task1234567890abc hello\n'));
      res.end(frame(2, 'com.docker.swarm.node.id=node1,com.docker.swarm.service.id=svc1234567890,com.docker.swarm.task.id=task1234567890abc oops\n'));
    },
  });
  let r = await shoal('-H', host, 'service', 'logs', '--tail', '5', '--timestamps', 'web');
  t.equal(r.code, 0, r.err);
  t.equal(r.out, 'web.1.task12345678@worker1    | hello\n');
  t.equal(r.err, 'web.1.task12345678@worker1    | oops\n', 'stderr frames go to stderr');
  t.match(query, /stdout=true&stderr=true&details=true&tail=5&timestamps=true/);
  r = await shoal('-H', host, 'service', 'logs', '--no-task-ids', 'web');
  t.equal(r.out, 'web.1@worker1    | hello\n');
  tty = true;
  r = await shoal('-H', host, 'service', 'logs', '--no-prefix', 'web');
  t.equal(r.out, 'raw line\n');
  t.equal(oneLineError(await shoal('-H', host, 'service', 'logs', '--tail', 'some', 'web')), null);
});
