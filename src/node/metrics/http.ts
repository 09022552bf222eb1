/**
 * `--metrics-addr`: GET /metrics on plain HTTP, on any node (a worker has no
 * API). Nothing else answers there; it holds counters, states and service
 * names, never a secret, so it needs no authentication (dockerd's
 * --metrics-addr is the same).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../util/log/interface.js';

export interface MetricsEndpoint {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export async function serveMetrics(addr: string, scrape: () => Promise<{ contentType: string; text: string }>, log: Logger): Promise<MetricsEndpoint> {
  const i = addr.lastIndexOf(':');
  const host = addr.slice(0, i);
  const port = Number(addr.slice(i + 1));
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(req.method !== 'GET' && path === '/metrics' ? 405 : 404, { 'Content-Type': 'text/plain' });
      res.end(path === '/metrics' ? 'method not allowed: GET /metrics only\n' : 'not found: this address serves GET /metrics only\n');
      return;
    }
    scrape().then(
      (m) => {
        res.writeHead(200, { 'Content-Type': m.contentType });
        res.end(m.text);
      },
      (err: Error) => {
        log.error(`scrape failed: ${err.message}`);
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`scrape failed: ${err.message}\n`);
      },
    );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.warn(err.message));
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
