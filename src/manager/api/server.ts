/**
 * The HTTP control API: Docker Engine API v1.47 paths and shapes over
 * node:http, so the docker CLI (DOCKER_HOST=tcp://manager:2375) drives
 * Shoal's swarm. Paths are accepted with and without the /v1.NN prefix the
 * CLI adds after negotiating the version through /_ping.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ManagerContext } from '../interface.js';
import { ApiError, toApiError } from './errors.js';
import { bodyTooLarge, DEFAULT_MAX_BODY_BYTES, parseJson, readBody } from './http.js';
import { newApiMetrics, type ApiMetrics } from './metrics.js';
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

export interface ApiServer {
  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(host: string, port: number): Promise<AddressInfo>;
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
    version: opts.version ?? '0.0.0',
    log: opts.log ?? (() => {}),
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
    const { handler, params } = router.match(method, path);
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
    dispatch(req, res).catch((err: unknown) => {
      const e = toApiError(err);
      if (e.status >= 500) d.log(`api: ${req.method} ${req.url} → ${e.status} ${e.message}${e.status === 500 && err instanceof Error && err.stack ? `\n${err.stack}` : ''}`);
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

  return {
    server,
    handle,
    metrics: d.metrics,
    listen(host, port) {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function compareVersions(a: string, b: string): number {
  const [a1, a2] = a.split('.').map(Number) as [number, number];
  const [b1, b2] = b.split('.').map(Number) as [number, number];
  return a1 !== b1 ? a1 - b1 : a2 - b2;
}
