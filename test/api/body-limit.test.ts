/**
 * Request bodies are bounded: real oversize POSTs against the default limit
 * (1 MiB, ApiServerOptions.maxBodyBytes) get a 413 naming the limit, whether
 * the length is declared or the body is chunked; a body the route never reads
 * is not drained forever; and the server keeps serving.
 */
import net from 'node:net';
import t from 'tap';
import { DEFAULT_MAX_BODY_BYTES } from '../../src/manager/api/http.js';
import { spec, startApi } from './helpers.js';
import { within } from '../helpers/wait.js';

const MiB = 1024 * 1024;

/**
 * A raw chunked POST over a real socket: writes 64 KiB chunks (as fast as
 * the socket takes them) until `total` bytes are sent, or forever when
 * Infinity, and resolves once the server has answered and closed the
 * connection: with the response text and how much body was written by then.
 */
function rawChunkedPost(port: number, path: string, total: number): Promise<{ response: string; sent: number }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunk = Buffer.concat([Buffer.from(`10000\r\n`), Buffer.alloc(0x10000, 0x78), Buffer.from('\r\n')]);
    let sent = 0;
    let response = '';
    let done = false;
    const pump = () => {
      while (!done && sent < total) {
        sent += 0x10000;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
      if (!done && sent >= total) sock.write('0\r\n\r\n');
    };
    sock.on('connect', () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`);
      pump();
    });
    sock.on('data', (d) => (response += d.toString('latin1')));
    // The server closing under us shows as an error (EPIPE, ECONNRESET) or a close: either ends the test's wait.
    sock.on('error', () => {});
    sock.on('close', () => {
      done = true;
      if (response === '') reject(new Error(`connection closed with no response after ${sent} bytes`));
      else resolve({ response, sent });
    });
  });
}

t.test('an oversize POST (declared or chunked) is a 413 naming the limit; the server keeps serving', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const rssBefore = process.memoryUsage().rss;

  const declared = await fetch(`${api.base}/v1.47/services/create`, { method: 'POST', body: 'x'.repeat(20 * MiB), headers: { 'Content-Type': 'application/json' } });
  t.equal(declared.status, 413, 'a 20 MiB body with Content-Length');
  t.same(await declared.json(), { message: `request body larger than ${DEFAULT_MAX_BODY_BYTES} bytes (the API's limit)`, code: 'api.TOO_LARGE' });

  const chunked = await within(rawChunkedPost(api.port, '/v1.47/services/create', 64 * MiB), 30_000, 'a 64 MiB chunked POST');
  t.match(chunked.response, /^HTTP\/1\.1 413 /, 'a 64 MiB chunked body');
  t.match(chunked.response, /"code":"api\.TOO_LARGE"/);
  t.ok(chunked.sent < 64 * MiB, `the server stopped reading after ${(chunked.sent / MiB).toFixed(1)} MiB and closed`);

  const ok = await api.req('POST', '/services/create', spec('web'));
  t.equal(ok.status, 201, 'a normal request after the refusals');
  t.equal(api.ctx.store.count('service'), 1);
  t.ok(process.memoryUsage().rss - rssBefore < 200 * MiB, 'memory stayed bounded');
});

t.test('a declared body over the limit is refused on any route, even one that reads no body', async (t) => {
  const api = await startApi({ server: { maxBodyBytes: 4096 } });
  t.teardown(api.close);
  const r = await fetch(`${api.base}/_ping`, { method: 'POST', body: 'x'.repeat(8192) });
  t.equal(r.status, 413);
  t.match(await r.json(), { message: /larger than 4096 bytes/ });
});

t.test('an endless body sent to a route that never reads it is not drained forever', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const r = await within(rawChunkedPost(api.port, '/v1.47/no/such/route', Infinity), 30_000, 'the server closing the connection under an endless body');
  t.match(r.response, /^HTTP\/1\.1 404 /);
  t.match(r.response, /\r\nConnection: close\r\n/i, 'the server closes the connection instead of draining the rest');
  t.ok(r.sent < 512 * MiB, `the client got to send ${(r.sent / MiB).toFixed(1)} MiB before the close`);
  const ping = await api.req('GET', '/_ping');
  t.equal(ping.status, 200, 'the server still serves');
});
