/**
 * The CLI's client of the manager's HTTP API (Docker Engine API v1.47 paths).
 * Every failure becomes a CliError whose message is what the user reads:
 * the API's own `message` for API errors, one plain sentence when no
 * manager answers.
 */
import { retry } from '../util/retry.js';
import { isRetryable } from '../util/errors.js';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { CliError } from './errors.js';

export const API_PREFIX = '/v1.47';

/** Codes that mean "nothing answered at that address" (as opposed to an answer we did not like). */
const UNREACHABLE = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'CONNECT_TIMEOUT']);

export type Query = Record<string, string | number | boolean | undefined>;

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** Docker's `filters` query value: `{"key":{"value":true}}`. */
export function encodeFilters(f: Record<string, string[] | undefined>): string | undefined {
  const entries = Object.entries(f).filter(([, v]) => v && v.length > 0);
  if (entries.length === 0) return undefined;
  return JSON.stringify(Object.fromEntries(entries.map(([k, vs]) => [k, Object.fromEntries(vs!.map((v) => [v, true]))])));
}

/** The client certificate (and the CA that verifies the server) for the API over TCP: an admin bundle's ca.pem, cert.pem, key.pem. */
export interface ClientTls {
  ca: string;
  cert: string;
  key: string;
}

const UNIX = 'unix://';
const PLAIN = 'http://';

export function isUnixHost(h: string): boolean {
  return h.startsWith(UNIX);
}

/** `http://host:port`: plain HTTP, asked for by name (a local proxy that authenticates, or a test's in-process server); a node never serves it. */
export function isPlainHost(h: string): boolean {
  return h.startsWith(PLAIN);
}

/**
 * "unix:///path" stays as it is (the path must be absolute, as docker's);
 * "tcp://h:p", "https://h:p", "h:p" or "h" → "h:p", which is TLS (2375 when
 * no port is given, as docker's DOCKER_HOST); "http://h:p" stays, and is
 * plain HTTP.
 */
export function normalizeHost(raw: string): string {
  const t = raw.trim();
  if (isUnixHost(t)) {
    if (!t.slice(UNIX.length).startsWith('/')) throw new CliError(`invalid API address ${JSON.stringify(raw)}: a unix socket needs an absolute path, e.g. unix:///root/.shoal/node/api.sock`);
    return t;
  }
  const plain = isPlainHost(t);
  const s = t.replace(/^(tcp|http|https):\/\//, '').replace(/\/+$/, '');
  if (s === '' || /[/\s]/.test(s)) throw new CliError(`invalid API address ${JSON.stringify(raw)}: use host:port, e.g. 127.0.0.11:2375`);
  if (/^\[.*\]$/.test(s) || !s.includes(':')) return `${plain ? PLAIN : ''}${s}:2375`;
  const port = Number(s.slice(s.lastIndexOf(':') + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new CliError(`invalid API address ${JSON.stringify(raw)}: the port must be 1-65535`);
  return `${plain ? PLAIN : ''}${s}`;
}

function splitHost(raw: string): { host: string; port: number } {
  const h = raw.startsWith(PLAIN) ? raw.slice(PLAIN.length) : raw;
  const i = h.lastIndexOf(':');
  return { host: h.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(h.slice(i + 1)) };
}

function qs(q: Query | undefined): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface ClientOptions {
  /** Candidate API addresses (normalizeHost), tried in order until one answers (several when they come from `shoal up`'s managers). */
  hosts: string[];
  /** For TCP addresses: the API is served only over TLS with client certificates. Without it TCP is plain HTTP (a test's in-process server). */
  tls?: ClientTls;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

export class ApiClient {
  private hosts: string[];
  private readonly tls: ClientTls | undefined;
  private readonly connectTimeoutMs: number;
  private readonly requestTimeoutMs: number;

  constructor(opts: ClientOptions) {
    if (opts.hosts.length === 0) throw new Error('ApiClient needs at least one host');
    this.hosts = [...opts.hosts];
    this.tls = opts.tls;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 3_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  }

  /** The address in use (the first one that answered). */
  get host(): string {
    return this.hosts[0]!;
  }

  async get<T>(path: string, query?: Query): Promise<T> {
    return this.json<T>(await this.call('GET', path, query));
  }

  async post<T>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.json<T>(await this.call('POST', path, query, body));
  }

  async delete(path: string, query?: Query): Promise<void> {
    await this.call('DELETE', path, query);
  }

  /**
   * One request; errors are CliErrors. GETs are retried for a few seconds on
   * 503 (no leader during an election): a read is safe to repeat, a write
   * may already have been applied, so writes are not.
   */
  async call(method: string, path: string, query?: Query, body?: unknown): Promise<Response> {
    return retry(
      async () => {
        const res = await this.send(method, path, query, body);
        if (res.status < 400) return res;
        throw new CliError(apiMessage(res), 1, { status: res.status, code: apiCode(res.text) });
      },
      // A 503 says retryable (util/errors.ts); only reads are repeated blindly.
      { what: `${method} ${path}`, deadlineMs: 5_000, retryable: (err) => method === 'GET' && isRetryable(err), backoff: { initialMs: 100, maxMs: 500 }, exhausted: 'last' },
    );
  }

  /** A streaming GET (logs): resolves with the response once headers arrive; API errors are CliErrors. */
  async stream(path: string, query?: Query): Promise<IncomingMessage> {
    const res = await this.withFailover((host) => this.open(host, 'GET', path, query, undefined, 0));
    if ((res.statusCode ?? 0) >= 400) {
      const text = await readAll(res);
      throw new CliError(apiMessage({ status: res.statusCode ?? 0, text }), 1, { status: res.statusCode ?? 0, code: apiCode(text) });
    }
    return res;
  }

  private async send(method: string, path: string, query: Query | undefined, body: unknown): Promise<Response> {
    const res = await this.withFailover((host) => this.open(host, method, path, query, body, this.requestTimeoutMs));
    return { status: res.statusCode ?? 0, headers: res.headers, text: await readAll(res) };
  }

  /** Tries each candidate host until one connects, then keeps using that one. */
  private async withFailover<T>(attempt: (host: string) => Promise<T>): Promise<T> {
    let lastErr: NodeJS.ErrnoException | undefined;
    for (let i = 0; i < this.hosts.length; i++) {
      const host = this.hosts[i]!;
      try {
        const r = await attempt(host);
        if (i > 0) this.hosts = [host, ...this.hosts.filter((h) => h !== host)];
        return r;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EACCES' && isUnixHost(host)) {
          throw new CliError(`permission denied on ${host.slice(UNIX.length)}: the API socket is for its owner only; run as that user (root), or use the API's TLS address with an admin bundle (SHOAL_CERT_PATH)`);
        }
        if (!e.code || !UNREACHABLE.has(e.code)) throw new CliError(`API request to ${host} failed: ${e.message}`);
        lastErr = e;
      }
    }
    const tried = this.hosts.length > 1 ? `${this.hosts[0]} (nor ${this.hosts.slice(1).join(', ')})` : this.hosts[0];
    throw new CliError(`cannot reach the Shoal API at ${tried}: is the cluster up? (shoal up)${!lastErr || lastErr.code === 'ECONNREFUSED' || lastErr.code === 'ENOENT' ? '' : ` [${lastErr.code}]`}`);
  }

  /**
   * Any request as it came (the dashboard's proxy): the path with its query,
   * the body bytes, no response deadline (event streams stay open). Fails
   * over between the managers like every call; the answer is returned as is,
   * errors included.
   */
  forward(method: string, pathAndQuery: string, body?: Buffer, contentType?: string): Promise<IncomingMessage> {
    return this.withFailover((host) => this.open(host, method, pathAndQuery, undefined, body, 0, { raw: true, ...(contentType ? { contentType } : {}) }));
  }

  private open(host: string, method: string, path: string, query: Query | undefined, body: unknown, timeoutMs: number, o: { raw?: boolean; contentType?: string } = {}): Promise<IncomingMessage> {
    const data = body === undefined ? undefined : o.raw ? (body as Buffer) : JSON.stringify(body);
    const tls = isUnixHost(host) || isPlainHost(host) ? undefined : this.tls;
    const where = isUnixHost(host) ? { socketPath: host.slice(UNIX.length) } : { ...splitHost(host), ...(tls ?? {}) };
    const request = tls ? https.request : http.request;
    return new Promise((resolve, reject) => {
      const req = request({
        ...where,
        method,
        path: o.raw ? path : `${API_PREFIX}${path}${qs(query)}`,
        headers: { 'User-Agent': 'shoal-cli', ...(data !== undefined ? { 'Content-Type': o.contentType ?? 'application/json', 'Content-Length': Buffer.byteLength(data) } : {}) },
      });
      // Separate connect and response deadlines: a dead address fails fast, a slow commit does not.
      const connectTimer = setTimeout(() => req.destroy(Object.assign(new Error('connect timeout'), { code: 'CONNECT_TIMEOUT' })), this.connectTimeoutMs);
      // A kept-alive socket is already connected and never emits 'connect' again.
      req.on('socket', (s) => (s.connecting ? s.once('connect', () => clearTimeout(connectTimer)) : clearTimeout(connectTimer)));
      const responseTimer = timeoutMs > 0 ? setTimeout(() => req.destroy(new Error(`no answer to ${method} ${path} within ${timeoutMs / 1000}s`)), timeoutMs) : null;
      req.on('response', (res) => {
        clearTimeout(connectTimer);
        if (responseTimer) res.once('end', () => clearTimeout(responseTimer)).once('close', () => clearTimeout(responseTimer));
        resolve(res);
      });
      req.on('error', (err) => {
        clearTimeout(connectTimer);
        if (responseTimer) clearTimeout(responseTimer);
        reject(err);
      });
      req.end(data);
    });
  }

  private json<T>(res: Response): T {
    if (res.text === '') return undefined as T;
    try {
      return JSON.parse(res.text) as T;
    } catch {
      throw new CliError(`the API at ${this.host} answered with something other than JSON (HTTP ${res.status})`);
    }
  }
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

/** The API's `{"message": …}`, on one line; else the HTTP status. */
/** The `code` of an API error body, if it has one (Shoal's API does; dockerd's does not). */
function apiCode(text: string): string | undefined {
  try {
    const c = (JSON.parse(text) as { code?: unknown }).code;
    return typeof c === 'string' ? c : undefined;
  } catch {
    return undefined;
  }
}

export function apiMessage(res: Pick<Response, 'status' | 'text'>): string {
  let msg = '';
  try {
    const m = (JSON.parse(res.text) as { message?: unknown }).message;
    if (typeof m === 'string') msg = m;
  } catch {
    msg = res.text.trim();
  }
  msg = msg.replace(/\s*\n\s*/g, ' ').trim();
  return msg || `the API answered HTTP ${res.status} ${http.STATUS_CODES[res.status] ?? ''}`.trim();
}
