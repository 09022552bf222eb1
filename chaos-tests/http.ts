/**
 * The workload's HTTP client: one request, a hard deadline, and the outcome
 * classified the way a linearizability history needs it:
 *   ok       — 2xx, the operation took effect (its body is the result);
 *   fail     — a definite "did not happen": a 4xx, or the connection was
 *              refused before anything was sent;
 *   unknown  — no answer (timeout, reset, a paused node), a 503 (no leader
 *              or outcome unknown) or any other 5xx: it may or may not have
 *              taken effect, so it is recorded with ret = Infinity.
 */
import https from 'node:https';

export type Outcome =
  | { kind: 'ok'; status: number; body: unknown }
  | { kind: 'fail'; status: number; body: unknown }
  | { kind: 'unknown'; status: number; reason: string };

export interface Target {
  host: string;
  port: number;
  /** The admin client bundle: the API is TLS with client certificates. */
  tls: { ca: string; cert: string; key: string };
}

export function request(to: Target, method: string, path: string, body: unknown, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    let settled = false;
    const done = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const req = https.request(
      { host: to.host, port: to.port, ...to.tls, path, method, agent: false, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} },
      (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (b += c));
        res.on('error', (err) => done({ kind: 'unknown', status: res.statusCode ?? 0, reason: err.message }));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          let parsed: unknown = b;
          try {
            parsed = b ? JSON.parse(b) : undefined;
          } catch {
            /* keep text */
          }
          if (status >= 200 && status < 300) done({ kind: 'ok', status, body: parsed });
          else if (status >= 400 && status < 500) done({ kind: 'fail', status, body: parsed });
          else done({ kind: 'unknown', status, reason: typeof parsed === 'object' && parsed && 'message' in parsed ? String((parsed as { message: unknown }).message) : String(b).slice(0, 200) });
        });
      },
    );
    // A timer rather than the socket timeout: a paused server accepts the connection and then says nothing.
    const timer = setTimeout(() => {
      req.destroy();
      done({ kind: 'unknown', status: 0, reason: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Refused: nothing reached a server, so nothing happened.
      if (err.code === 'ECONNREFUSED') done({ kind: 'fail', status: 0, body: err.message });
      else done({ kind: 'unknown', status: 0, reason: err.message });
    });
    if (data) req.write(data);
    req.end();
  });
}
