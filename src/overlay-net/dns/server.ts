/**
 * The embedded resolver: a UDP and a TCP listener on gateway:53 of every
 * network of the plan, in the node's network namespace (every node holds
 * every gateway, so a task's resolver is always its own node). update(plan)
 * swaps the name table and rebinds as networks come and go. Queries never
 * throw: a packet that does not decode is dropped and counted.
 */
import { readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { NodePlan } from '../interface.js';
import { DnsError } from './errors.js';
import { DnsMetrics } from './metrics.js';
import { type ResolverOptions, resolverDefaults } from './options.js';
import { NameTable } from './table.js';
import { Forwarder, parseResolvConf, parseUpstream, type Upstream } from './upstream.js';

const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const UDP_PLAIN_MAX = 512;

interface Binding {
  networkId: string;
  udp: dgram.Socket;
  tcp: net.Server;
  conns: Set<net.Socket>;
}

export class EmbeddedResolver {
  readonly metrics = new DnsMetrics();
  private readonly opts: typeof resolverDefaults & ResolverOptions;
  private table: NameTable | null = null;
  /** gateway → its listeners. */
  private readonly bound = new Map<string, Binding>();
  private readonly forwarder: Forwarder;
  private upstreamCache: Upstream[] | null = null;
  private stopped = false;

  constructor(opts: ResolverOptions = {}) {
    this.opts = { ...resolverDefaults, ...opts };
    this.forwarder = new Forwarder(() => this.upstreams(), this.opts.forwardTimeoutMs, (e) => this.report(new DnsError('UPSTREAM_FAILED', e.message, e)));
  }

  /** Where each network's resolver listens (for tests and diagnostics). */
  get listening(): string[] {
    return [...this.bound.keys()];
  }

  /** Swap the names and rebind. Resolves once every gateway is bound or its failure reported. */
  async update(plan: NodePlan): Promise<void> {
    if (this.stopped) return;
    this.table = new NameTable(plan, this.opts.domain.toLowerCase(), { vip: this.opts.vipTtl, task: this.opts.taskTtl });
    const want = new Map(plan.networks.map((n) => [n.gateway, n.id]));
    for (const [gw, b] of this.bound) {
      if (want.get(gw) === b.networkId) continue;
      this.close(b);
      this.bound.delete(gw);
    }
    await Promise.all([...want].filter(([gw]) => !this.bound.has(gw)).map(([gw, id]) => this.bind(gw, id)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const b of this.bound.values()) this.close(b);
    this.bound.clear();
    this.forwarder.close();
  }

  /** One query in, its answer out (null: drop). Exposed for tests; never throws. */
  async answer(query: Buffer, source: string, networkId: string | null, transport: 'udp' | 'tcp'): Promise<Buffer | null> {
    this.metrics.queries++;
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(query);
    } catch {
      this.metrics.malformed++;
      return null;
    }
    try {
      if (q.type !== 'query') {
        this.metrics.malformed++;
        return null;
      }
      const questions = q.questions ?? [];
      const opcode = (q as { opcode?: string }).opcode ?? 'QUERY';
      if (opcode !== 'QUERY') return this.reply(q, RCODE.NOTIMP, []);
      if (questions.length !== 1) return this.reply(q, RCODE.FORMERR, []);
      const question = questions[0];
      const table = this.table;
      const scope = table ? table.scopeOf(source, networkId) : [];
      const found = table ? table.lookup(question.name, scope) : { found: false as const, underDomain: false };
      if (found.found) {
        this.metrics.answered++;
        const wantsA = question.type === 'A' || (question.type as string) === 'ANY';
        const answers = wantsA ? found.entry.addrs.map((a) => ({ type: 'A' as const, name: question.name, class: 'IN' as const, ttl: found.entry.ttl, data: a })) : [];
        return this.fit(this.reply(q, RCODE.NOERROR, answers, true), q, transport);
      }
      if (found.underDomain) {
        this.metrics.nxdomain++;
        return this.reply(q, RCODE.NXDOMAIN, [], true);
      }
      if (scope.length && table!.isInternal(scope[0])) {
        this.metrics.refused++;
        return this.reply(q, RCODE.REFUSED, []);
      }
      this.metrics.forwarded++;
      const fwd = await this.forwarder.forward(query);
      if (!fwd) {
        this.metrics.forwardFailures++;
        return this.reply(q, RCODE.SERVFAIL, []);
      }
      return fwd;
    } catch {
      // A packet that decoded but cannot be answered (e.g. a question dns-packet cannot re-encode).
      this.metrics.malformed++;
      return null;
    }
  }

  private reply(q: dnsPacket.Packet, rcode: number, answers: dnsPacket.Answer[], authoritative = false): Buffer {
    const rd = (q.flags ?? 0) & dnsPacket.RECURSION_DESIRED;
    return dnsPacket.encode({
      id: q.id,
      type: 'response',
      flags: rd | dnsPacket.RECURSION_AVAILABLE | (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | rcode,
      questions: q.questions,
      answers,
    });
  }

  /** A UDP answer over the client's limit (512, or its EDNS size) loses answers and gets TC: it retries over TCP. */
  private fit(buf: Buffer, q: dnsPacket.Packet, transport: 'udp' | 'tcp'): Buffer {
    if (transport === 'tcp') return buf;
    const opt = (q.additionals ?? []).find((a) => a.type === 'OPT') as { udpPayloadSize?: number } | undefined;
    const limit = Math.max(UDP_PLAIN_MAX, opt?.udpPayloadSize ?? UDP_PLAIN_MAX);
    if (buf.length <= limit) return buf;
    this.metrics.truncated++;
    const r = dnsPacket.decode(buf);
    const answers = [...(r.answers ?? [])];
    let out = buf;
    while (answers.length && out.length > limit) {
      answers.pop();
      out = dnsPacket.encode({ ...r, flags: (r.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers });
    }
    return out;
  }

  private upstreams(): Upstream[] {
    if (this.opts.upstreams) return this.opts.upstreams.map(parseUpstream).filter((u): u is Upstream => u !== null);
    if (!this.upstreamCache) {
      try {
        this.upstreamCache = parseResolvConf(readFileSync(this.opts.resolvConfPath, 'utf8'));
      } catch {
        this.upstreamCache = [];
      }
    }
    return this.upstreamCache;
  }

  private bind(gateway: string, networkId: string): Promise<void> {
    return new Promise((resolve) => {
      const udp = dgram.createSocket({ type: 'udp4', reuseAddr: true });
      const conns = new Set<net.Socket>();
      const tcp = net.createServer((c) => {
        conns.add(c);
        c.on('close', () => conns.delete(c));
        this.serveTcp(c, networkId);
      });
      const fail = (e: Error) => {
        this.metrics.bindFailures++;
        this.report(new DnsError('BIND_FAILED', `${gateway}:${this.opts.port}: ${e.message}`, e));
        try {
          udp.close();
        } catch {
          // already closed
        }
        tcp.close();
        resolve();
      };
      udp.once('error', fail);
      udp.on('message', (msg, rinfo) => {
        void this.answer(msg, rinfo.address, networkId, 'udp').then((out) => {
          try {
            if (out) udp.send(out, rinfo.port, rinfo.address, () => undefined);
          } catch {
            // the socket closed meanwhile (its network left the plan): the client retries
          }
        });
      });
      udp.bind(this.opts.port, gateway, () => {
        udp.off('error', fail);
        udp.on('error', (e) => this.report(new DnsError('BIND_FAILED', `${gateway} udp: ${e.message}`, e)));
        tcp.once('error', fail);
        tcp.listen(this.opts.port, gateway, () => {
          tcp.off('error', fail);
          tcp.on('error', (e) => this.report(new DnsError('BIND_FAILED', `${gateway} tcp: ${e.message}`, e)));
          if (this.stopped) {
            udp.close();
            tcp.close();
          } else this.bound.set(gateway, { networkId, udp, tcp, conns });
          resolve();
        });
      });
    });
  }

  /** RFC 7766 framing: a 2-byte length before each message; several queries may share a connection. */
  private serveTcp(c: net.Socket, networkId: string): void {
    let buf = Buffer.alloc(0);
    c.setTimeout(10_000, () => c.destroy());
    c.on('error', () => c.destroy());
    c.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        void this.answer(Buffer.from(msg), c.remoteAddress?.replace(/^::ffff:/, '') ?? '', networkId, 'tcp').then((out) => {
          if (!out) return void c.destroy();
          const len2 = Buffer.alloc(2);
          len2.writeUInt16BE(out.length);
          if (!c.destroyed) c.write(Buffer.concat([len2, out]), () => undefined);
        });
      }
    });
  }

  private close(b: Binding): void {
    try {
      b.udp.close();
    } catch {
      // already closed
    }
    b.tcp.close();
    for (const c of b.conns) c.destroy();
  }

  private report(e: Error): void {
    try {
      this.opts.onError?.(e);
    } catch {
      // a failing reporter must not take the resolver down
    }
  }
}
