/**
 * An API server on a free loopback port over a FakeContext, and a small
 * HTTP client returning status, headers and the parsed JSON body.
 */
import { createApiServer, type ApiServer } from '../../src/manager/api/index.js';
import type { ApiServerOptions } from '../../src/manager/api/options.js';
import { FakeContext } from './fake-context.js';
import { recordingLogger } from '../helpers/logs.js';

export interface Reply {
  status: number;
  headers: Headers;
  /** Parsed JSON body (undefined when empty or not JSON). */
  body: any;
  text: string;
}

export interface TestApi {
  ctx: FakeContext;
  server: ApiServer;
  port: number;
  base: string;
  req(method: string, path: string, body?: unknown, opts?: { raw?: string; headers?: Record<string, string> }): Promise<Reply>;
  close(): Promise<void>;
}

export async function startApi(opts: { ctx?: FakeContext; init?: boolean; server?: ApiServerOptions } = {}): Promise<TestApi> {
  const ctx = opts.ctx ?? new FakeContext();
  if (opts.init !== false && ctx.store.count('cluster') === 0) ctx.init();
  const logs: string[] = [];
  const server = createApiServer(ctx, { version: '0.1.0-test', log: recordingLogger((r) => logs.push(r.msg)).log, ...opts.server });
  const addr = await server.listen('127.0.0.1', 0);
  const base = `http://127.0.0.1:${addr.port}`;
  return {
    ctx,
    server,
    port: addr.port,
    base,
    async req(method, path, body, o = {}) {
      const init: RequestInit = { method, headers: { ...o.headers } };
      if (o.raw !== undefined) init.body = o.raw;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
      }
      const res = await fetch(base + path, init);
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, headers: res.headers, body: parsed, text };
    },
    close: () => server.close(),
  };
}

/** A ServiceSpec as the docker CLI sends it for `docker service create --name NAME --replicas N IMAGE`. */
export function spec(name: string, replicas = 1, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const mode = extra.Mode as Record<string, unknown> | undefined;
  if (mode?.ReplicatedJob || mode?.GlobalJob) {
    // What the docker CLI sends for a job: no update or rollback config (a job has no rolling update).
    const { UpdateConfig: _u, RollbackConfig: _r, ...rest } = spec(name, replicas, { ...extra, Mode: { Replicated: { Replicas: replicas } } });
    return { ...rest, Mode: mode };
  }
  return {
    Name: name,
    Labels: {},
    TaskTemplate: { ContainerSpec: { Image: 'busybox', Args: ['sleep', '1000'], Init: false }, Resources: { Limits: {}, Reservations: {} }, Placement: {}, ForceUpdate: 0 },
    Mode: { Replicated: { Replicas: replicas } },
    UpdateConfig: { Parallelism: 1, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'stop-first' },
    RollbackConfig: { Parallelism: 1, FailureAction: 'pause', MaxFailureRatio: 0, Order: 'stop-first' },
    EndpointSpec: { Mode: 'vip' },
    ...extra,
  };
}
