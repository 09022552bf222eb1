/**
 * The HTTP control API: Docker Engine API v1.47 paths and shapes, so the
 * docker CLI drives Shoal's swarm. Paths are accepted with and without the
 * /v1.NN prefix the CLI adds after negotiating the version through /_ping.
 *
 * Where it is served is the node's decision (node/api-endpoints.ts), and it
 * is closed by default, as dockerd is:
 * - `listenUnix`: a socket file only its owner (root) may open;
 * - `listenTls`: TCP with TLS and client certificates the cluster CA signed
 *   (dockerd's --tlsverify), each request checked by `authorize`;
 * - `listen`: plain TCP, for tests of the routes in one process only.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { chmodSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ManagerContext } from '../interface.js';
import { ApiError, toApiError } from './errors.js';
import { bodyTooLarge, DEFAULT_MAX_BODY_BYTES, parseJson, readBody } from './http.js';
import { countRequest, newApiMetrics, type ApiMetrics } from './metrics.js';
import { API_VERSION, DEFAULT_MAX_LOG_BUFFER_BYTES, MIN_API_VERSION, type ApiServerOptions, type Deps } from './options.js';
import { Router, type ApiRequest, type ApiResponse } from './router.js';
import { distributionRoutes } from './routes/distribution.js';
import { networkRoutes } from './routes/networks.js';
import { nodeRoutes } from './routes/nodes.js';
import { serviceRoutes } from './routes/services.js';
import { swarmRoutes } from './routes/swarm.js';
import { systemRoutes } from './routes/system.js';
import { taskRoutes } from './routes/tasks.js';
import { logRoutes } from './routes/logs.js';
import { kvRoutes } from './routes/kv.js';
import { secretRoutes } from './routes/secrets.js';
import { eventRoutes } from './routes/events.js';
import { uiRoutes } from './routes/ui.js';
import { EventLog } from '../events/event-log.js';
import { componentLogger, type Logger } from '../../util/log/interface.js';

/** TLS material of the API's TCP listener, and who may call it. */
export interface ApiTlsOptions {
  host: string;
  port: number;
  key: string;
  cert: string;
  /** The CA(s) client certificates must chain to. */
  ca: string;
  /** Why the verified client certificate (its subject) may not call the API, or null when it may. */
  authorize(subject: Record<string, string | string[] | undefined> | undefined): string | null;
}

export interface ApiServer {
  /** Plain HTTP on host:port, for tests of the routes; a node never serves this. Resolves with the bound address (port 0 picks a free one). */
  listen(host: string, port: number): Promise<AddressInfo>;
  /** Serves on a unix socket at `path`, mode 0600 from the moment it exists. */
  listenUnix(path: string): Promise<void>;
  /** Serves over TLS, with client certificates required and checked (see ApiTlsOptions). */
  listenTls(opts: ApiTlsOptions): Promise<AddressInfo>;
  /** Replaces the TLS listener's certificate and CA (a renewal); new connections use it. */
  updateTls(material: { key: string; cert: string; ca: string }): void;
  /** Stops accepting, closes idle and active connections, resolves when closed. */
  close(): Promise<void>;
  /** The request handler, for mounting on another server or calling in tests. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  readonly server: http.Server;
  readonly metrics: ApiMetrics;
}

export function createApiServer(ctx: ManagerContext, opts: ApiServerOptions = {}): ApiServer {
  const d: Deps = {
    ctx,
    maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    maxLogBufferBytes: opts.maxLogBufferBytes ?? DEFAULT_MAX_LOG_BUFFER_BYTES,
    metrics: newApiMetrics(),
    events: new EventLog(ctx.store),
    ...(opts.gossipMembers ? { gossipMembers: opts.gossipMembers } : {}),
    version: opts.version ?? '0.0.0',
    log: componentLogger(opts.log, 'api'),
  };
  const router = new Router();
  systemRoutes(router, d);
  swarmRoutes(router, d);
  nodeRoutes(router, d);
  serviceRoutes(router, d);
  taskRoutes(router, d);
  logRoutes(router, d);
  networkRoutes(router, d);
  distributionRoutes(router);
  kvRoutes(router, d);
  secretRoutes(router, d);
  eventRoutes(router, d);
  uiRoutes(router, d);
  const scrape = opts.scrapeMetrics;
  if (scrape) {
    router.add('GET', '/metrics', async () => {
      const m = await scrape();
      return { text: m.text, headers: { 'Content-Type': m.contentType } };
    });
  }

  const commonHeaders = {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `Shoal/${d.version} (${process.platform})`,
  };

  function send(res: ServerResponse, status: number, out: ApiResponse): void {
    const headers: Record<string, string> = { ...commonHeaders, ...out.headers };
    let payload: string | undefined;
    if (out.text !== undefined) {
      payload = out.text;
      headers['Content-Type'] ??= 'text/plain; charset=utf-8';
    } else if (out.body !== undefined) {
      payload = JSON.stringify(out.body) + '\n';
      headers['Content-Type'] = 'application/json';
    }
    if (payload !== undefined) headers['Content-Length'] = String(Buffer.byteLength(payload));
    res.writeHead(status, headers);
    res.end(payload);
  }

  /** The matched route of each request in flight, for its metrics (`unmatched` until the router knows it). */
  const routeOf = new WeakMap<IncomingMessage, string>();

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://shoal');
    let path = url.pathname;
    let apiVersion = API_VERSION;
    const vm = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (vm) {
      apiVersion = vm[1]!;
      path = vm[2]!;
      if (compareVersions(apiVersion, API_VERSION) > 0) {
        throw new ApiError(400, `client version ${apiVersion} is too new. Maximum supported API version is ${API_VERSION}`);
      }
      if (compareVersions(apiVersion, MIN_API_VERSION) < 0) {
        throw new ApiError(400, `client version ${apiVersion} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
    }
    const method = req.method ?? 'GET';
    // A declared body over the limit is refused before routing, whatever the
    // route would do with it (most never read one).
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > d.maxBodyBytes) throw bodyTooLarge(d.maxBodyBytes);
    const { handler, params, pattern } = router.match(method, path);
    routeOf.set(req, pattern);
    let body: Promise<unknown> | undefined;
    const apiReq: ApiRequest = {
      method,
      path,
      params,
      query: url.searchParams,
      headers: req.headers,
      apiVersion,
      json: () => (body ??= readBody(req, d.maxBodyBytes).then(parseJson)),
    };
    const out = await handler(apiReq);
    // A body the handler did not read would be drained to its end after the
    // response (node's default, however long the client keeps sending):
    // close the connection instead.
    if (!req.complete) out.headers = { ...out.headers, Connection: 'close' };
    if (out.stream) {
      res.writeHead(out.status ?? 200, { ...commonHeaders, ...out.headers });
      res.flushHeaders();
      await out.stream(res);
      res.end();
      return;
    }
    send(res, out.status ?? 200, out);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const t0 = performance.now();
    res.once('close', () => countRequest(d.metrics, req.method ?? 'GET', routeOf.get(req) ?? 'unmatched', res.headersSent ? res.statusCode : 0, performance.now() - t0));
    dispatch(req, res).catch((err: unknown) => {
      const e = toApiError(err);
      if (e.status >= 500) d.log.error({ method: req.method, url: req.url, status: e.status, ...(e.status === 500 && err instanceof Error ? { err } : {}) }, `${req.method} ${req.url} → ${e.status} ${e.message}`);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const headers = { ...e.headers };
      // Do not read (or keep the connection for) the rest of an oversized or unread body.
      if (e.status === 413 || !req.complete) headers.Connection = 'close';
      // Docker's error body is {message}; `code` (ours, qualified) lets a client branch without reading the words.
      send(res, e.status, { body: { message: e.message, code: e.qualifiedCode }, headers });
    });
  }

  const server = http.createServer(handle);
  // Clients like the docker CLI keep connections alive; an API call is short.
  server.keepAliveTimeout = 5_000;
  const servers: http.Server[] = [server];
  let tlsServer: https.Server | null = null;
  // Once closed, stays closed: a listener started late (the TLS one waits for the CA) must not outlive close().
  let closed = false;
  const adopt = async (srv: http.Server, listen: () => Promise<void>) => {
    if (closed) throw new Error('the API server is closed');
    servers.push(srv);
    await listen();
    if (closed) {
      srv.close();
      srv.closeAllConnections();
      throw new Error('the API server was closed while it started listening');
    }
  };

  /** The TLS listener's handler: the handshake proved the certificate chains to the CA; the request is allowed only if its holder may use the API. */
  function handleTls(authorize: ApiTlsOptions['authorize']) {
    const verdicts = new WeakMap<TLSSocket, string | null>();
    return (req: IncomingMessage, res: ServerResponse) => {
      const sock = req.socket as TLSSocket;
      let why = verdicts.get(sock);
      if (why === undefined) {
        why = authorize(sock.getPeerCertificate()?.subject as Record<string, string> | undefined);
        verdicts.set(sock, why);
      }
      if (why === null) return handle(req, res);
      d.metrics.requestsForbidden++;
      send(res, 403, { body: { message: `forbidden: ${why}`, code: 'api.FORBIDDEN' }, headers: { Connection: 'close' } });
    };
  }

  function listenOn(srv: http.Server, ...args: unknown[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      srv.once('error', onError);
      (srv.listen as (...a: unknown[]) => void)(...args, () => {
        srv.off('error', onError);
        resolve();
      });
    });
  }

  return {
    server,
    handle,
    metrics: d.metrics,
    async listen(host, port) {
      await listenOn(server, port, host);
      return server.address() as AddressInfo;
    },
    async listenUnix(path) {
      const srv = http.createServer(handle);
      srv.keepAliveTimeout = 5_000;
      // The socket file is created by bind(): with umask 0177 it is born
      // 0600, so no other user can connect in the moment before the chmod.
      const old = process.umask(0o177);
      try {
        await adopt(srv, () => listenOn(srv, path));
      } finally {
        process.umask(old);
      }
      chmodSync(path, 0o600);
    },
    async listenTls(o) {
      const srv = https.createServer({ key: o.key, cert: o.cert, ca: o.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, handleTls(o.authorize));
      srv.keepAliveTimeout = 5_000;
      // No certificate, or one from another CA: the handshake fails; counted, and the socket is gone.
      srv.on('tlsClientError', (_err, sock) => {
        d.metrics.tlsHandshakesRefused++;
        sock.destroy();
      });
      await adopt(srv, () => listenOn(srv, o.port, o.host));
      tlsServer = srv;
      return srv.address() as AddressInfo;
    },
    updateTls(m) {
      tlsServer?.setSecureContext({ key: m.key, cert: m.cert, ca: m.ca });
    },
    close() {
      closed = true;
      d.events.close();
      return Promise.all(
        servers.map(
          (srv) =>
            new Promise<void>((resolve) => {
              if (!srv.listening) return resolve();
              srv.close(() => resolve());
              srv.closeAllConnections();
            }),
        ),
      ).then(() => undefined);
    },
  };
}

function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number) as [number, number];
  const [b1, b2] = b.split('.').map(Number) as [number, number];
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}
