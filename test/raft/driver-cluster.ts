/**
 * An in-process cluster of real RaftDrivers: sqlite files in a temp dir,
 * WebSocket transports on loopback. Used by the driver tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { RaftDriver, type RaftDriverOptions } from '../../src/raft/driver.js';
import { KvStateMachine, encodeKvCommand } from '../../src/raft/kv-state-machine.js';
import type { RaftOptions } from '../../src/raft/options.js';
import { WsTransport } from '../../src/wire/ws-transport.js';
import { FaultController } from '../../src/wire/faults.js';
import { waitFor } from '../helpers/wait.js';

export interface Member {
  id: string;
  address: string;
  port: number;
  transport: WsTransport;
  driver: RaftDriver;
  sm: KvStateMachine;
}

/** Fast timers for tests: 20 ms ticks keep elections well under a second. */
export const TEST_TICK_MS = 20;

export class TestCluster {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'shoal-raft-'));
  readonly members = new Map<string, Member>();
  readonly faults = new FaultController();
  private readonly ports = new Map<string, number>();

  constructor(private readonly raft: Partial<RaftOptions> = {}) {}

  dataPath(id: string): string {
    return path.join(this.dir, `${id}.sqlite`);
  }

  /** Starts (or restarts) node `id`. `founding` lists the founders for a new cluster. */
  async start(id: string, opts: { founding?: string[]; peers?: string[]; driver?: Partial<RaftDriverOptions> } = {}): Promise<Member> {
    const transport = this.faults.install(new WsTransport({ nodeId: id }));
    const address = await transport.listen({ port: this.ports.get(id) ?? 0 });
    const port = Number(address.split(':')[1]);
    this.ports.set(id, port);
    const peers: Record<string, string> = {};
    for (const p of opts.peers ?? []) {
      const port = this.ports.get(p);
      if (port) peers[p] = `127.0.0.1:${port}`;
    }
    const sm = new KvStateMachine();
    const driver = await RaftDriver.start({
      id,
      dataPath: this.dataPath(id),
      transport,
      stateMachine: sm,
      peers,
      tickMs: TEST_TICK_MS,
      requestTimeoutMs: 5_000,
      raft: this.raft,
      ...(opts.founding ? { founding: { voters: opts.founding, learners: [] } } : {}),
      ...opts.driver,
    });
    const m: Member = { id, address, port, transport, driver, sm };
    this.members.set(id, m);
    return m;
  }

  /** Reserves ports for ids before starting them, so every founder knows every address. */
  async reservePorts(ids: string[]): Promise<void> {
    for (const id of ids) {
      const t = new WsTransport({ nodeId: `probe-${id}` });
      const a = await t.listen();
      this.ports.set(id, Number(a.split(':')[1]));
      await t.close();
    }
  }

  async stop(id: string): Promise<void> {
    const m = this.members.get(id);
    if (!m) return;
    this.members.delete(id);
    await m.driver.stop();
    await m.transport.close();
  }

  async leader(timeoutMs = 10_000): Promise<Member> {
    return waitFor(
      () => {
        const leaders = [...this.members.values()].filter((m) => m.driver.isLeader);
        return leaders.length === 1 ? leaders[0] : undefined;
      },
      { timeoutMs, what: 'a single leader' },
    );
  }

  put(m: Member, key: string, value: string): Promise<unknown> {
    return m.driver.propose(encodeKvCommand({ op: 'put', key, value }));
  }

  append(m: Member, key: string, value: string): Promise<unknown> {
    return m.driver.propose(encodeKvCommand({ op: 'append', key, value }));
  }

  async close(): Promise<void> {
    for (const id of [...this.members.keys()]) await this.stop(id);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
