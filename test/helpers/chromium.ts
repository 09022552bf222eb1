/**
 * Headless Chromium driven over the DevTools protocol (a WebSocket, `ws`):
 * enough to load a page, run JavaScript in it, wait for a condition in it,
 * and take a screenshot. Debian's `chromium`; as root it needs --no-sandbox.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import WebSocket from 'ws';
import { waitFor } from './wait.js';

export class Browser {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly proc: ChildProcess,
    private readonly ws: WebSocket,
    private readonly profile: string,
    private session = '',
  ) {
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error.message));
      else p.resolve(m.result);
    });
  }

  static async launch(binary: string): Promise<Browser> {
    const profile = mkdtempSync(path.join(tmpdir(), 'shoal-chromium-'));
    // Its own process group: Chromium's helpers (zygote, renderers, GPU) go with it on close().
    const proc = spawn(binary, ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-dev-shm-usage', '--remote-debugging-port=0', `--user-data-dir=${profile}`, '--window-size=1280,1000', 'about:blank'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const url = await waitFor(() => /DevTools listening on (ws:\/\/\S+)/.exec(err)?.[1], { timeoutMs: 30_000, what: `chromium's DevTools endpoint\n${err}` });
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const b = new Browser(proc, ws, profile);
    const { targetId } = (await b.send('Target.createTarget', { url: 'about:blank' }, false)) as { targetId: string };
    const { sessionId } = (await b.send('Target.attachToTarget', { targetId, flatten: true }, false)) as { sessionId: string };
    b.session = sessionId;
    await b.send('Page.enable');
    await b.send('Runtime.enable');
    return b;
  }

  send(method: string, params: Record<string, unknown> = {}, inPage = true): Promise<unknown> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params, ...(inPage ? { sessionId: this.session } : {}) }));
    });
  }

  async navigate(url: string): Promise<void> {
    await this.send('Page.navigate', { url });
  }

  /** Runs an expression in the page (awaiting a promise) and returns its JSON value; a thrown error rejects. */
  async eval<T = unknown>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true })) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
    if (r.exceptionDetails) throw new Error(`in the page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  async screenshot(): Promise<Buffer> {
    const r = (await this.send('Page.captureScreenshot', { format: 'png' })) as { data: string };
    return Buffer.from(r.data, 'base64');
  }

  async close(): Promise<void> {
    this.ws.terminate();
    const exited = new Promise((r) => (this.proc.exitCode !== null || this.proc.signalCode !== null ? r(null) : this.proc.once('exit', r)));
    try {
      process.kill(-this.proc.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
    this.proc.stderr?.destroy();
    await exited;
    // Chromium's helper processes may still be writing the profile as it goes.
    rmSync(this.profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

/**
 * A PNG's pixels, decoded (8-bit RGB or RGBA, non-interlaced: what Chromium
 * writes), for checking that a screenshot shows something.
 */
export function pngPixels(png: Buffer): { width: number; height: number; channels: number; data: Buffer } {
  if (png.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('ascii', off + 4, off + 8);
    const body = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const depth = body[8]!;
      const color = body[9]!;
      if (depth !== 8 || (color !== 2 && color !== 6) || body[12] !== 0) throw new Error(`unsupported PNG (depth ${depth}, color ${color})`);
      channels = color === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(body);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const data = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? data[y * stride + x - channels]! : 0;
      const b = y > 0 ? data[(y - 1) * stride + x]! : 0;
      const c = x >= channels && y > 0 ? data[(y - 1) * stride + x - channels]! : 0;
      let v = line[x]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      data[y * stride + x] = v & 0xff;
    }
  }
  return { width, height, channels, data };
}
