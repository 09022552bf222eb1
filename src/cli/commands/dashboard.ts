/**
 * `shoal dashboard [--addr 127.0.0.1:PORT]`: the managers' web dashboard
 * (GET /ui) in a browser on this machine, as `kubectl proxy` does it. The
 * API only takes its own clients (the unix socket's owner, or a client
 * certificate of the cluster), which a browser is not; so this command holds
 * the CLI's credentials and forwards the browser's requests to a manager
 * (failing over between them like every CLI call).
 *
 * Who may use it: whoever has the URL it prints. The URL carries a random
 * token; the first request trades it for an HttpOnly, SameSite=Strict
 * cookie, and every request must carry that cookie. Writes must also come
 * from the dashboard's own origin. It listens on loopback unless told
 * otherwise.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { clientFor } from '../host.js';
import { out } from './common.js';

const COOKIE = 'shoal_dashboard';
const MAX_BODY_BYTES = 1024 * 1024;
/** Response headers that describe the hop, not the answer. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

function sameToken(a: string | undefined, b: string): boolean {
  if (!a || a.length !== b.length) return false;
  return timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function cookieOf(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === COOKIE) return v.join('=');
  }
  return undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_BODY_BYTES) {
        reject(new Error(`request body over ${MAX_BODY_BYTES} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(n > 0 ? Buffer.concat(chunks) : undefined));
    req.on('error', reject);
  });
}

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description("open the managers' web dashboard (/ui) from this machine: a local proxy that holds your API credentials; the URL it prints carries its access token")
    .option('--addr <host:port>', 'where the dashboard listens (loopback by default; port 0 picks a free one)', '127.0.0.1:0')
    .action(async (o: { addr: string }, cmd: Command) => {
      const m = /^(.+):(\d{1,5})$/.exec(o.addr);
      if (!m || Number(m[2]) > 65535) throw new CliError(`--addr must be host:port, got ${JSON.stringify(o.addr)}`);
      const client = clientFor(cmd);
      // Fail here, not in the browser, when no manager answers.
      await client.call('GET', '/_ping').catch((err: Error) => {
        throw err instanceof CliError ? err : new CliError(err.message);
      });
      const token = randomBytes(24).toString('base64url');

      const handle = async (req: IncomingMessage, res: ServerResponse) => {
        const url = new URL(req.url ?? '/', 'http://dashboard');
        const given = url.searchParams.get('token');
        if (given !== null) {
          if (!sameToken(given, token)) return deny(res, 'wrong token');
          url.searchParams.delete('token');
          res.writeHead(303, { Location: `${url.pathname}${url.search}`, 'Set-Cookie': `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/` });
          return res.end();
        }
        if (!sameToken(cookieOf(req), token)) return deny(res, 'open the URL `shoal dashboard` printed (it carries the access token)');
        const method = req.method ?? 'GET';
        if (method !== 'GET' && method !== 'HEAD' && req.headers.origin !== `http://${req.headers.host}`) return deny(res, 'a change must come from the dashboard page itself');
        if (url.pathname === '/') {
          res.writeHead(302, { Location: '/ui/' });
          return res.end();
        }
        const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
        const up = await client.forward(method, `${url.pathname}${url.search}`, body, req.headers['content-type']);
        const headers: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
        res.writeHead(up.statusCode ?? 502, headers);
        // Headers now, not with the first body byte: an event stream may be quiet for a long time.
        res.flushHeaders();
        up.pipe(res);
        // The browser left (an event stream closed): end the upstream request too.
        res.once('close', () => up.destroy());
      };
      const server = http.createServer((req, res) => {
        handle(req, res).catch((err: Error) => {
          if (res.headersSent) return res.destroy();
          res.writeHead(502, { 'Content-Type': 'text/plain; charset=utf-8' });
          res.end(`the dashboard could not reach a manager: ${err.message}\n`);
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err) => reject(new CliError(`cannot listen on ${o.addr}: ${err.message}`)));
        server.listen(Number(m[2]), m[1], () => resolve());
      });
      const a = server.address() as AddressInfo;
      const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
      out(`Shoal dashboard on ${client.host}: http://${host}:${a.port}/ui/?token=${token}\n(anyone with this URL can act as you on the cluster; Ctrl-C stops it)\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          server.close(() => resolve());
          server.closeAllConnections();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}

function deny(res: ServerResponse, why: string): void {
  res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`not allowed: ${why}\n`);
}
