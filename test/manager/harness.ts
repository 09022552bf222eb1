/**
 * In-process managers and fake agents over real WebSocket transports on
 * 127.0.0.x, real sqlite Raft logs in a temp dir. Shared by the manager tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Manager, type ManagerOptions } from '../../src/manager/manager.js';
import { Join, type JoinResponse } from '../../src/protocol/membership.js';
import { newObjectId } from '../../src/manager/membership/tokens.js';
import type { Task, TaskState } from '../../src/model/index.js';
import { LeaseKeeper } from '../../src/worker/supervisor/lease-keeper.js';
import { SessionClient } from '../../src/worker/agent/session.js';
import { WsTransport } from '../../src/wire/ws-transport.js';
import { waitFor } from '../helpers/wait.js';
import { claimOctets } from '../helpers/octets.js';
import { CLUSTER_MESSAGES } from '../../src/protocol/index.js';
import { registry } from '../../src/wire/registry.js';

registry.add(...CLUSTER_MESSAGES);

let hostSeq = 0;
const hostBase = claimOctets(20, 100, 3);
export function nextHost(): string {
  return `127.0.${hostBase + Math.floor(hostSeq / 200)}.${10 + (hostSeq++ % 200)}`;
}

export class ManagerCluster {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'shoal-mgr-'));
  readonly managers = new Map<string, { m: Manager; t: WsTransport; addr: string }>();
  readonly agents: FakeAgent[] = [];

  constructor(private readonly extra: Partial<ManagerOptions> = {}) {}

  async found(): Promise<Manager> {
    const id = newObjectId();
    return this.startManager(id, { found: { clusterId: newObjectId(), hostname: 'm0', gossipKey: 'x'.repeat(44) } });
  }

  async startManager(id: string, more: Partial<ManagerOptions> = {}, addr?: string): Promise<Manager> {
    const t = new WsTransport({ nodeId: id });
    const a = await t.listen({ host: addr ? addr.split(':')[0]! : nextHost(), port: addr ? Number(addr.split(':')[1]) : 0 });
    const m = await Manager.start({ nodeId: id, dataDir: path.join(this.dir, id), addr: a, transport: t, tickMs: 20, dispatcher: { heartbeatMs: 200 }, ...this.extra, ...more });
    this.managers.set(id, { m, t, addr: a });
    return m;
  }

  leader(): Promise<Manager> {
    return waitFor(() => [...this.managers.values()].map((x) => x.m).find((m) => m.isLeader && m.store.list('cluster').length > 0), { what: 'a bootstrapped leader' });
  }

  tokens(m: Manager): { Worker: string; Manager: string } {
    return m.store.list('cluster')[0]!.JoinTokens;
  }

  /** Sends a join request as node `id` from a throwaway transport. */
  async join(token: string, id: string, clusterAddr: string): Promise<JoinResponse> {
    const leader = await this.leader();
    const t = new WsTransport({ nodeId: id });
    try {
      const conn = await t.connect(this.managers.get(leader.status().nodeId)!.addr);
      return await conn.request(Join, { token, nodeId: id, hostname: id, clusterAddr, gossipAddr: clusterAddr });
    } finally {
      await t.close();
    }
  }

  /** A founded cluster with two managers joined; resolves with its leader once all three vote. */
  async threeVoters(): Promise<Manager> {
    await this.found();
    await this.joinManager();
    await this.joinManager();
    const leader = await this.leader();
    await waitFor(() => leader.status().managers.filter((x) => x.voter).length === 3, { what: 'three voters' });
    return leader;
  }

  async joinManager(): Promise<Manager> {
    return (await this.joinManagerNotStarted()).start();
  }

  /** A manager's join, accepted; its process starts when `start()` is called. */
  async joinManagerNotStarted(): Promise<{ id: string; start(): Promise<Manager> }> {
    const leader = await this.leader();
    const id = newObjectId();
    const host = nextHost();
    const t = new WsTransport({ nodeId: id });
    const addr = await t.listen({ host, port: 0 });
    await t.close();
    const r = await this.join(this.tokens(leader).Manager, id, addr);
    return { id, start: () => this.startManager(id, { peers: Object.fromEntries(r.managers.map((x) => [x.nodeId, x.addr])) }, addr) };
  }

  async addAgent(resources = { nanoCpus: 4e9, memoryBytes: 8 * 2 ** 30 }): Promise<FakeAgent> {
    const leader = await this.leader();
    const id = newObjectId();
    const t = new WsTransport({ nodeId: id });
    const addr = await t.listen({ host: nextHost(), port: 0 });
    const r = await this.join(this.tokens(leader).Worker, id, addr);
    const a = new FakeAgent(id, t, addr, r.managers.map((x) => x.addr), resources);
    this.agents.push(a);
    a.start();
    return a;
  }

  async stopManager(id: string): Promise<void> {
    const x = this.managers.get(id);
    if (!x) return;
    this.managers.delete(id);
    await x.m.stop();
    await x.t.close();
  }

  async close(): Promise<void> {
    for (const a of this.agents) await a.stop();
    for (const id of [...this.managers.keys()]) await this.stopManager(id);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * An agent that "runs" what it is assigned: reports starting → running, and
 * shutdown when told. It keeps its node's fencing lease the way a node's
 * task supervisor does (LeaseKeeper), so its node is judged as a real one is.
 */
export class FakeAgent {
  readonly tasks = new Map<string, Task>();
  readonly session: SessionClient;
  /** States reported per task, in order. */
  readonly reported = new Map<string, TaskState[]>();
  autoRun = true;
  private lease: LeaseKeeper | null = null;

  constructor(
    readonly id: string,
    readonly transport: WsTransport,
    readonly addr: string,
    managers: string[],
    resources: { nanoCpus: number; memoryBytes: number },
  ) {
    this.session = new SessionClient({
      transport,
      nodeId: id,
      description: { hostname: id, os: 'linux', arch: 'x86_64', ...resources, labels: {}, runtimes: ['process'], engineVersion: 'fake', clusterAddr: addr, gossipAddr: addr },
      managers,
      onAssignments: (full, tasks, removed) => {
        if (full) this.tasks.clear();
        for (const id of removed) this.tasks.delete(id);
        for (const t of tasks) {
          this.tasks.set(t.ID, t);
          this.act(t);
        }
      },
    });
  }

  start(): void {
    this.session.start();
    this.lease = new LeaseKeeper({ transport: this.transport, nodeId: this.id, managers: [...this.session.knownManagers], renewEveryMs: 100 });
    // Managers learned from the session (a joined manager, a failover) are renewed with too.
    const t = setInterval(() => this.lease?.setManagers([...this.session.knownManagers]), 200);
    t.unref();
    this.stopLease = () => clearInterval(t);
  }

  private stopLease: () => void = () => {};

  report(taskId: string, state: TaskState, message: string = state): void {
    const list = this.reported.get(taskId) ?? [];
    if (list.at(-1) === state) return;
    list.push(state);
    this.reported.set(taskId, list);
    this.session.report([{ taskId, status: { Timestamp: new Date().toISOString(), State: state, Message: message } }]);
  }

  private act(t: Task): void {
    if (!this.autoRun) return;
    if (t.DesiredState === 'running' && ['assigned', 'accepted'].includes(t.Status.State)) {
      this.report(t.ID, 'starting');
      this.report(t.ID, 'running');
    } else if (['shutdown', 'remove', 'orphaned'].includes(t.DesiredState) && !['complete', 'shutdown', 'failed', 'rejected'].includes(t.Status.State)) {
      this.report(t.ID, 'shutdown');
    }
  }

  async stop(): Promise<void> {
    this.stopLease();
    this.lease?.stop();
    this.session.stop();
    await this.transport.close();
  }
}
