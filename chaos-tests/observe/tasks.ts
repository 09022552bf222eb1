/**
 * Samples the cluster's own view of its tasks (GET /tasks, GET /nodes) a few
 * times a second from whichever manager answers. From the samples come:
 *  - the API-view double-run invariant: per (service, slot), the nodes with a
 *    task in Status.State running — counting only nodes the store does not
 *    hold down (a down node's tasks keep their last reported state, and are
 *    known to be fenced: the dispatcher declares a node down only after its
 *    last contact + the fence window);
 *  - rescheduling times (recovery.ts);
 *  - task → (service, slot, node), to read the heartbeat files.
 */
import { Sampler } from './sampler.js';
import type { ChaosCluster, ChaosNode } from '../cluster.js';
import type { RunClock } from '../clock.js';

export interface TaskInfo {
  id: string;
  service: string;
  slot: number;
  node: string;
  desired: string;
  state: string;
  /** `<network ID>/<address>` of each of its network attachments (the store's IPAM). */
  addrs: string[];
}

export interface TaskSample {
  t: number;
  tasks: TaskInfo[];
  down: Set<string>;
}

export interface OverlapEpisode {
  slot: string;
  nodes: string[];
  start: number;
  end: number;
}

interface TaskJson {
  ID: string;
  ServiceID: string;
  Slot: number;
  NodeID: string;
  DesiredState: string;
  Status: { State: string };
  NetworksAttachments?: { Network: { ID: string }; Addresses: string[] }[];
}

export class TaskSampler extends Sampler {
  readonly samples: TaskSample[] = [];
  readonly meta = new Map<string, TaskInfo>();
  readonly episodes: OverlapEpisode[] = [];
  private readonly open = new Map<string, OverlapEpisode>();
  private down = new Set<string>();
  private via = 0;

  constructor(
    private readonly c: ChaosCluster,
    private readonly clock: RunClock,
    everyMs = 250,
  ) {
    super(everyMs);
  }

  override async stop(): Promise<void> {
    await super.stop();
    for (const e of this.open.values()) this.episodes.push(e);
    this.open.clear();
  }

  private async get<T>(p: string): Promise<T | null> {
    const ms = this.c.managers();
    for (let i = 0; i < ms.length; i++) {
      const m: ChaosNode = ms[(this.via + i) % ms.length]!;
      if (!this.c.up(m)) continue;
      const r = await this.c.api(m, 'GET', p, undefined, 1_500);
      if (r.kind === 'ok') {
        this.via = (this.via + i) % ms.length;
        return r.body as T;
      }
    }
    return null;
  }

  protected async tick(n: number): Promise<void> {
    if (n % 4 === 0) {
      const nodes = await this.get<{ ID: string; Status: { State: string } }[]>('/nodes');
      if (nodes) this.down = new Set(nodes.filter((x) => x.Status.State === 'down').map((x) => x.ID));
    }
    const tasks = await this.get<TaskJson[]>('/tasks');
    if (tasks) this.record(tasks);
  }

  private record(ts: TaskJson[]): void {
    const t = this.clock.now();
    const tasks = ts.map((x) => ({
      id: x.ID,
      service: x.ServiceID,
      slot: x.Slot,
      node: x.NodeID,
      desired: x.DesiredState,
      state: x.Status.State,
      addrs: (x.NetworksAttachments ?? []).flatMap((a) => a.Addresses.map((ad) => `${a.Network.ID}/${ad}`)),
    }));
    for (const x of tasks) this.meta.set(x.id, x);
    this.samples.push({ t, tasks, down: new Set(this.down) });
    const bySlot = new Map<string, Set<string>>();
    for (const x of tasks) {
      if (x.state !== 'running' || this.down.has(x.node)) continue;
      const k = `${x.service}.${x.slot}`;
      const s = bySlot.get(k) ?? new Set<string>();
      s.add(x.node);
      bySlot.set(k, s);
    }
    for (const [k, nodes] of bySlot) {
      if (nodes.size < 2) continue;
      const e = this.open.get(k);
      if (e) e.end = t;
      else this.open.set(k, { slot: k, nodes: [...nodes], start: t, end: t });
    }
    for (const [k, e] of this.open) {
      if ((bySlot.get(k)?.size ?? 0) < 2) {
        this.episodes.push(e);
        this.open.delete(k);
      }
    }
  }
}
