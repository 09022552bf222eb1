/**
 * Forwarding names the plan does not hold to the node's own resolvers. One
 * UDP socket for all forwarded queries; each gets a fresh random ID (the
 * client's ID is restored in the answer) and tries the upstreams in turn,
 * each for at most `timeoutMs`: a dead upstream costs a bounded wait, never a
 * hang. An answer is accepted only from the upstream it was sent to, with
 * the ID it was sent with.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { isIP } from 'node:net';

export interface Upstream {
  host: string;
  port: number;
}

/** `nameserver` lines of resolv.conf (IPv4 only: the resolver's forwarding socket is udp4). */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m && isIP(m[1]) === 4) out.push({ host: m[1], port: 53 });
  }
  return out;
}

export function parseUpstream(s: string): Upstream | null {
  const [host, port] = s.split(':');
  const p = port === undefined ? 53 : Number(port);
  return isIP(host) === 4 && Number.isInteger(p) && p > 0 && p < 65536 ? { host, port: p } : null;
}

interface Pending {
  resolve: (b: Buffer | null) => void;
  upstream: Upstream;
  timer: NodeJS.Timeout;
}

export class Forwarder {
  private sock: dgram.Socket | null = null;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly upstreams: () => Upstream[],
    private readonly timeoutMs: number,
    private readonly onError: (e: Error) => void,
  ) {}

  /** The upstream's answer with the client's ID, or null when none answered in time. */
  async forward(query: Buffer): Promise<Buffer | null> {
    const clientId = query.readUInt16BE(0);
    for (const up of this.upstreams()) {
      const answer = await this.ask(query, up);
      if (answer) {
        answer.writeUInt16BE(clientId, 0);
        return answer;
      }
    }
    return null;
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.resolve(null);
    }
    this.pending.clear();
    try {
      this.sock?.close();
    } catch {
      // already closed
    }
    this.sock = null;
  }

  private socket(): dgram.Socket {
    if (this.sock) return this.sock;
    const s = dgram.createSocket('udp4');
    s.on('message', (msg, rinfo) => {
      if (msg.length < 12) return;
      const p = this.pending.get(msg.readUInt16BE(0));
      if (!p || p.upstream.host !== rinfo.address || p.upstream.port !== rinfo.port) return;
      this.pending.delete(msg.readUInt16BE(0));
      clearTimeout(p.timer);
      p.resolve(Buffer.from(msg));
    });
    s.on('error', (e) => {
      this.onError(e);
      if (this.sock === s) this.sock = null;
      try {
        s.close();
      } catch {
        // already closed
      }
    });
    s.unref();
    this.sock = s;
    return s;
  }

  private ask(query: Buffer, upstream: Upstream): Promise<Buffer | null> {
    return new Promise((resolve) => {
      let id = randomInt(0, 65536);
      for (let i = 0; this.pending.has(id) && i < 16; i++) id = randomInt(0, 65536);
      if (this.pending.has(id)) return resolve(null);
      const out = Buffer.from(query);
      out.writeUInt16BE(id, 0);
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(null);
      }, this.timeoutMs);
      this.pending.set(id, { resolve, upstream, timer });
      try {
        this.socket().send(out, upstream.port, upstream.host, (err) => {
          if (err && this.pending.get(id)?.timer === timer) {
            this.pending.delete(id);
            clearTimeout(timer);
            resolve(null);
          }
        });
      } catch {
        this.pending.delete(id);
        clearTimeout(timer);
        resolve(null);
      }
    });
  }
}
