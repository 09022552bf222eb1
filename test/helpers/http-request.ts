import http from 'node:http';
import https from 'node:https';

/**
 * One HTTP request, the body read whole: over a unix socket (socketPath), plain
 * HTTP (protocol 'http:') or TLS (the default, with whatever certificates the
 * options carry). A JSON body when one is given.
 */
export function httpRequest(o: https.RequestOptions & { path: string }, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (o.socketPath || o.protocol === 'http:' ? http : https).request({ ...o, method, agent: false, ...(body ? { headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } } : {}) }, (res) => {
      let b = '';
      res.on('data', (c: Buffer) => (b += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
