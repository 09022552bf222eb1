/**
 * The chaos control channel, in each node the harness starts (through its
 * own entry point and the daemon's hooks: chaos-tests/node/hooks.ts).
 *
 * A unix socket at `<dataDir>/chaos.sock` takes one JSON command per
 * connection (a line) and answers one JSON line:
 *
 *   {"cmd":"ping"}                                   → {"ok":true,"nodeId","pid"}
 *   {"cmd":"partition","blocks":[{"from":[ids],"to":[ids]}],"addrs":{id:"host:port"}}
 *        replaces all partitions: frames (and gossip datagrams) from a node of
 *        `from` to a node of `to` are dropped. One-way per block; the harness
 *        sends both directions for a symmetric cut, and the same spec to every
 *        node (each side drops what it sends, and gossip also what it receives).
 *   {"cmd":"link","from":id|"*","to":id|"*","faults":{drop,delayMs,jitterMs,duplicate,reorder}}
 *   {"cmd":"heal"}                                   → removes partitions and link faults
 *   {"cmd":"clock","offsetMs":N}                     → this process's clock runs N ms off
 *   {"cmd":"transfer","to":id}                       → (on the leader) hand leadership to `to`;
 *                                                      answers once `to` leads, or with an error
 *   {"cmd":"status"}                                 → role, Raft view, clock offset, fault counters
 *
 * What a partition cuts: every node-to-node stream on the cluster Transport
 * (Raft, dispatcher sessions, gossip push-pull, task logs) through a
 * FaultController installed on the WsTransport at start, and gossip's UDP
 * datagrams through the GossipDriver's packet filter. It does NOT cut the
 * HTTP API (clients, and the harness, still reach every manager) nor this
 * socket. Links are matched by node id; gossip addresses are mapped to node
 * ids with the `addrs` the harness sends (and gossip's member list).
 */
import { ShoalError } from '../../src/util/errors.js';
import net from 'node:net';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { FaultController, type LinkFaults } from '../../src/wire/faults.js';

export function chaosSocketPath(dataDir: string): string {
  return path.join(dataDir, 'chaos.sock');
}

export interface ChaosStatus {
  nodeId: string;
  pid: number;
  role: string;
  clockOffsetMs: number;
  raft: { isLeader: boolean; leaderId: string | null; term: number; commit: number; applied: number } | null;
  faults: FaultController['stats'];
}

export class ChaosCommandError extends ShoalError<'BAD_COMMAND'> {
  override readonly name = 'ChaosCommandError';
  readonly ns = 'chaos';
  constructor(message: string) {
    super('BAD_COMMAND', message, { status: 400 });
  }
}

type Command =
  | { cmd: 'ping' }
  | { cmd: 'partition'; blocks: { from: string[]; to: string[] }[]; addrs?: Record<string, string> }
  | { cmd: 'link'; from: string; to: string; faults: LinkFaults }
  | { cmd: 'heal' }
  | { cmd: 'clock'; offsetMs: number }
  | { cmd: 'transfer'; to: string }
  | { cmd: 'status' };

export class ChaosControl {
  readonly faults = new FaultController();
  private readonly addrToId = new Map<string, string>();
  private server: net.Server | null = null;
  /** Filled in by the daemon once its parts exist. */
  statusOf: () => Omit<ChaosStatus, 'nodeId' | 'pid' | 'clockOffsetMs' | 'faults'> = () => ({ role: 'starting', raft: null });
  /** Gossip's view of who is at which address, a fallback for `addrs`. */
  membersOf: () => { id: string; addr: string }[] = () => [];
  /** Leadership transfer on this node's Raft member (managers only). */
  transferTo: (to: string) => Promise<void> = () => Promise.reject(new ChaosCommandError('not a manager'));
  /**
   * How far this node's wall clock runs off (positive = ahead): a clock jump
   * is emulated by moving `wallClock()`, which the daemon's hooks hand the
   * manager for its timestamps and the orchestrator's decisions. Timers keep
   * running on real time, exactly as they would across a real NTP step.
   */
  clockOffsetMs = 0;
  readonly wallClock = (): number => Date.now() + this.clockOffsetMs;

  constructor(
    readonly nodeId: string,
    private readonly dataDir: string,
    private readonly log: (msg: string) => void,
  ) {}

  /** For GossipDriverOptions.packetFilter: drops datagrams across a partition, both ways. */
  gossipFilter(): (dir: 'in' | 'out', addr: string) => boolean {
    return (dir, addr) => {
      const peer = this.idOf(addr);
      if (peer === undefined) return true;
      return dir === 'out' ? !this.faults.isBlocked(this.nodeId, peer) : !this.faults.isBlocked(peer, this.nodeId);
    };
  }

  private idOf(addr: string): string | undefined {
    const known = this.addrToId.get(addr);
    if (known !== undefined) return known;
    for (const m of this.membersOf()) if (m.addr === addr) return m.id;
    return undefined;
  }

  async listen(): Promise<string> {
    const sock = chaosSocketPath(this.dataDir);
    rmSync(sock, { force: true });
    const server = net.createServer((c) => this.serve(c));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sock, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.log(`chaos control: ${err.message}`));
    this.server = server;
    this.log(`chaos control listening on ${sock}`);
    return sock;
  }

  close(): void {
    this.server?.close();
    this.server = null;
  }

  private serve(c: net.Socket): void {
    let buf = '';
    c.setEncoding('utf8');
    c.on('error', () => {});
    c.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) {
        if (buf.length > 1 << 20) c.destroy();
        return;
      }
      const line = buf.slice(0, nl);
      buf = '';
      void (async () => {
        let reply: unknown;
        try {
          const cmd = JSON.parse(line) as Command;
          reply = cmd?.cmd === 'transfer' ? await this.transfer(cmd.to) : this.handle(cmd);
        } catch (err) {
          reply = { ok: false, error: (err as Error).message };
        }
        if (!c.destroyed) c.end(JSON.stringify(reply) + '\n');
      })();
    });
  }

  private async transfer(to: string): Promise<unknown> {
    if (typeof to !== 'string' || !to) throw new ChaosCommandError('transfer needs to: a node id');
    this.log(`chaos: handing leadership to ${to}`);
    await this.transferTo(to);
    return { ok: true };
  }

  /** Carries out one command (all but the asynchronous transfer); throws ChaosCommandError on a malformed one. */
  handle(c: Command): unknown {
    switch (c?.cmd) {
      case 'ping':
        return { ok: true, nodeId: this.nodeId, pid: process.pid };
      case 'partition': {
        if (!Array.isArray(c.blocks)) throw new ChaosCommandError('partition needs blocks: [{from: [ids], to: [ids]}]');
        for (const [id, addr] of Object.entries(c.addrs ?? {})) this.addrToId.set(addr, id);
        this.faults.heal();
        for (const b of c.blocks) {
          if (!Array.isArray(b.from) || !Array.isArray(b.to)) throw new ChaosCommandError('each block needs from and to arrays of node ids');
          this.faults.partition(b.from, b.to, { oneWay: true });
        }
        this.log(`chaos: partition ${c.blocks.map((b) => `[${b.from.join(',')}]->[${b.to.join(',')}]`).join(' ')}`);
        return { ok: true };
      }
      case 'link':
        this.faults.setLink(c.from ?? '*', c.to ?? '*', c.faults ?? {});
        this.log(`chaos: link ${c.from}->${c.to} ${JSON.stringify(c.faults)}`);
        return { ok: true };
      case 'heal':
        this.faults.clear();
        this.log('chaos: healed');
        return { ok: true };
      case 'clock': {
        const ms = Number(c.offsetMs);
        if (!Number.isFinite(ms)) throw new ChaosCommandError(`clock needs offsetMs: a finite number of ms, got ${JSON.stringify(c.offsetMs)}`);
        this.clockOffsetMs = ms;
        this.log(`chaos: clock offset now ${ms} ms`);
        return { ok: true, offsetMs: ms };
      }
      case 'status':
        return { ok: true, nodeId: this.nodeId, pid: process.pid, clockOffsetMs: this.clockOffsetMs, faults: this.faults.stats, ...this.statusOf() } satisfies ChaosStatus & { ok: true };
      default:
        throw new ChaosCommandError(`unknown chaos command ${JSON.stringify((c as { cmd?: unknown })?.cmd)}`);
    }
  }
}
