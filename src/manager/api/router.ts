/**
 * A small method + path router. Patterns are literal segments, `:name`
 * (one segment) and `*name` (one or more segments, for image names with
 * slashes in /distribution/{name}/json). The API version prefix (/v1.47) is
 * stripped before routing, by the server.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError } from './errors.js';

export interface ApiRequest {
  method: string;
  /** Path without the version prefix, decoded per segment. */
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The negotiated API version from the path prefix, or the server's own when absent. */
  apiVersion: string;
  /** The parsed JSON body (`undefined` when the body is empty). Reads at most the server's body limit. */
  json(): Promise<unknown>;
}

export interface ApiResponse {
  status?: number;
  /** Serialised as JSON unless `text` is set. */
  body?: unknown;
  /** A plain-text body (the ping's "OK"). */
  text?: string;
  headers?: Record<string, string>;
  /** A streamed body (logs): headers go out first, then this writes until done. */
  stream?: (res: import('node:http').ServerResponse) => Promise<void>;
}

export type Handler = (req: ApiRequest) => Promise<ApiResponse> | ApiResponse;

interface Route {
  methods: Set<string>;
  re: RegExp;
  names: string[];
  /** The pattern as written (`/services/:id`): the route label of the API's request metrics. */
  pattern: string;
  handler: Handler;
}

export class Router {
  private readonly routes: Route[] = [];

  add(methods: string | string[], pattern: string, handler: Handler): this {
    const names: string[] = [];
    const src = pattern
      .split('/')
      .map((seg) => {
        if (seg.startsWith(':')) {
          names.push(seg.slice(1));
          return '([^/]+)';
        }
        if (seg.startsWith('*')) {
          names.push(seg.slice(1));
          return '(.+)';
        }
        return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ methods: new Set([methods].flat()), re: new RegExp(`^${src}/?$`), names, handler, pattern });
    return this;
  }

  /** The handler and path parameters for a request; 404 for unknown paths, 405 for a known path with the wrong method. */
  match(method: string, path: string): { handler: Handler; params: Record<string, string>; pattern: string } {
    let pathKnown = false;
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      pathKnown = true;
      if (!r.methods.has(method)) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]!);
        } catch {
          throw new ApiError(400, `malformed path parameter ${n}: ${m[i + 1]}`);
        }
      });
      return { handler: r.handler, params, pattern: r.pattern };
    }
    if (pathKnown) throw new ApiError(405, `method ${method} not allowed on ${path}`);
    // Docker's wording for an unknown route.
    throw new ApiError(404, 'page not found');
  }
}
