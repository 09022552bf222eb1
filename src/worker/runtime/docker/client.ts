import http from 'node:http';
import { RuntimeError } from '../interface.js';

/**
 * A minimal Docker Engine API client over the unix socket (node:http with
 * socketPath; no docker CLI). Unversioned paths: the engine serves its own
 * latest API version, and what we use has been stable since v1.25.
 */
export class DockerClient {
  constructor(readonly socketPath: string) {}

  /** A request whose response is JSON (or empty). Rejects with UNAVAILABLE when the engine cannot be reached. */
  async json<T>(method: string, path: string, body?: unknown, opts: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<{ status: number; body: T }> {
    const res = await this.raw(method, path, body, opts);
    const text = await readAll(res);
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = { message: text.trim() };
      }
    }
    return { status: res.statusCode ?? 0, body: parsed as T };
  }

  /** The ID of a container (any state) carrying `label` ("key=value"), or null. */
  async containerByLabel(label: string): Promise<string | null> {
    const filters = encodeURIComponent(JSON.stringify({ label: [label] }));
    const r = await this.json<{ Id: string }[]>('GET', `/containers/json?all=1&filters=${filters}`);
    if (r.status !== 200) throw new RuntimeError('FAILED', `Docker container list: ${errorMessage(r.body)}`);
    return r.body[0]?.Id ?? null;
  }

  /** The raw response (for streams: logs, exec output). */
  raw(method: string, path: string, body?: unknown, opts: { timeoutMs?: number; signal?: AbortSignal; rawBody?: NodeJS.ReadableStream; headers?: Record<string, string> } = {}): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request({
        socketPath: this.socketPath,
        path,
        method,
        agent: false,
        headers: {
          host: 'docker',
          ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}),
          ...(opts.rawBody ? { 'content-type': 'application/x-tar' } : {}),
          ...opts.headers,
        },
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      if (opts.timeoutMs !== undefined) {
        req.setTimeout(opts.timeoutMs, () => req.destroy(new RuntimeError('FAILED', `Docker ${method} ${path}: no answer within ${opts.timeoutMs} ms`)));
      }
      req.on('response', resolve);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof RuntimeError || err.name === 'AbortError') return reject(err);
        reject(new RuntimeError('UNAVAILABLE', `cannot reach the Docker engine at ${this.socketPath}: ${err.code ?? err.message}`));
      });
      if (opts.rawBody) opts.rawBody.pipe(req);
      else req.end(data);
    });
  }
}

export function readAll(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** The engine's error message from a JSON error body. */
export function errorMessage(body: unknown): string {
  return (body as { message?: string } | undefined)?.message ?? JSON.stringify(body);
}
