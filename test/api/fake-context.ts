/**
 * A ManagerContext over a real in-process Store, for tests of anything that
 * sits on the manager contract (the API, the CLI). commit() encodes the ops
 * into a Txn and applies it at the next index, as a one-manager Raft would;
 * readBarrier() resolves at once. Failures of the Raft layer are injected by
 * setting `failReads` / `failCommits` to the error the real layer throws.
 *
 * Seeding helpers create the cluster object, nodes and tasks the way the
 * manager would; `autoConverge()` runs a toy orchestrator (tasks for every
 * replicated slot, reported running at once) for tests that wait for
 * convergence, e.g. a non-detached `docker service create`.
 */
import { clusterDigest, makeToken, newObjectId } from '../../src/manager/membership/tokens.js';
import type { ManagerContext, ManagerStatusInfo } from '../../src/manager/interface.js';
import { encodeTxn, type StoreOp, type TxnResult } from '../../src/manager/store/commands.js';
import { StoreError, StoreErrorCode } from '../../src/manager/store/errors.js';
import { Store } from '../../src/manager/store/store.js';
import { DataKey } from '../../src/manager/secrets/data-key.js';
import type { Cluster, Labels, Node, NodeRole, NodeState, Service, Task, TaskState } from '../../src/model/index.js';

export interface NodeSeed {
  id?: string;
  hostname: string;
  role?: NodeRole;
  state?: NodeState;
  availability?: Node['Spec']['Availability'];
  labels?: Labels;
  engineLabels?: Labels;
  addr?: string;
  leader?: boolean;
}

export class FakeContext implements ManagerContext {
  readonly store = new Store();
  private index = 0;
  /** When set, readBarrier() rejects with it (e.g. a RaftError NOT_LEADER). */
  failReads: Error | null = null;
  /** When set, commit() rejects with it (e.g. a RaftDriverError TIMEOUT: outcome unknown). */
  failCommits: Error | null = null;
  /** When set, promote/demote/removeNode reject with it. */
  failMembership: Error | null = null;
  readonly calls = { promote: [] as string[], demote: [] as string[], removeNode: [] as [string, boolean][], commits: 0 };
  selfId = '';
  /** Fixed base time; each call of now() advances by one millisecond so timestamps are distinct. */
  private clockMs = Date.parse('2026-01-02T03:04:05.000Z');

  // --------------------------------------------------- ManagerContext

  readBarrier(): Promise<void> {
    return this.failReads ? Promise.reject(this.failReads) : Promise.resolve();
  }

  commit(ops: StoreOp[]): Promise<TxnResult> {
    if (this.failCommits) return Promise.reject(this.failCommits);
    this.calls.commits++;
    return Promise.resolve(this.applyNow(ops));
  }

  newId(): string {
    return newObjectId();
  }

  /** The data key secret and config data are sealed with (null: a manager without one). */
  key: DataKey | null = DataKey.generate();

  dataKey(): DataKey | null {
    return this.key;
  }

  now(): string {
    this.clockMs += 1;
    return new Date(this.clockMs).toISOString();
  }

  status(): ManagerStatusInfo {
    const managers = this.store.list('node').filter((n) => n.Spec.Role === 'manager');
    const leader = managers.find((n) => n.ManagerStatus?.Leader);
    const self = this.store.get('node', this.selfId);
    return {
      nodeId: this.selfId,
      addr: self?.ManagerStatus?.Addr ?? '127.0.0.1:4242',
      isLeader: leader?.ID === this.selfId,
      leaderId: leader?.ID ?? null,
      managers: managers.map((n) => ({ nodeId: n.ID, addr: n.ManagerStatus?.Addr ?? `${n.Status.Addr}:4242`, reachable: true, voter: true })),
      raft: { term: 1, commit: this.index, applied: this.index },
    };
  }

  async promote(nodeId: string): Promise<void> {
    if (this.failMembership) throw this.failMembership;
    this.calls.promote.push(nodeId);
    const n = this.mustNode(nodeId);
    const next: Node = { ...n, Spec: { ...n.Spec, Role: 'manager' }, ManagerStatus: { Reachability: 'reachable', Addr: `${n.Status.Addr}:4242` } };
    this.mustApply([{ op: 'update', kind: 'node', object: next }]);
  }

  async demote(nodeId: string): Promise<void> {
    if (this.failMembership) throw this.failMembership;
    this.calls.demote.push(nodeId);
    const n = this.mustNode(nodeId);
    const managers = this.store.list('node').filter((x) => x.Spec.Role === 'manager');
    if (managers.length === 1 && managers[0]!.ID === nodeId) {
      throw new StoreError(StoreErrorCode.FAILED_PRECONDITION, 'attempting to demote the last manager of the swarm');
    }
    const { ManagerStatus: _ms, ...rest } = n;
    this.mustApply([{ op: 'update', kind: 'node', object: { ...rest, Spec: { ...n.Spec, Role: 'worker' } } }]);
  }

  async removeNode(nodeId: string, force: boolean): Promise<void> {
    if (this.failMembership) throw this.failMembership;
    this.calls.removeNode.push([nodeId, force]);
    const n = this.mustNode(nodeId);
    if (n.Spec.Role === 'manager') {
      throw new StoreError(StoreErrorCode.FAILED_PRECONDITION, `node ${nodeId} is a cluster manager and is a member of the raft cluster. It must be demoted to worker before removal`);
    }
    if (n.Status.State === 'ready' && !force) {
      throw new StoreError(StoreErrorCode.FAILED_PRECONDITION, `node ${nodeId} is not down and can't be removed`);
    }
    this.mustApply([{ op: 'delete', kind: 'node', id: nodeId }]);
  }

  // --------------------------------------------------------- seeding

  /** Applies ops directly (bypassing failCommits): for seeding and for the toy orchestrator. */
  applyNow(ops: StoreOp[]): TxnResult {
    return this.store.apply({ index: ++this.index, term: 1, command: encodeTxn({ time: this.now(), ops }) });
  }

  mustApply(ops: StoreOp[]): void {
    const r = this.applyNow(ops);
    if (!r.ok) throw new StoreError(r.code as StoreErrorCode, r.message, r.field);
  }

  /** The cluster object and this manager's own node (leader). Returns the cluster. */
  init(opts: { hostname?: string } = {}): Cluster {
    const rootSecret = `root-${newObjectId()}`;
    const cluster: Omit<Cluster, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
      ID: newObjectId(),
      Spec: {
        Name: 'default',
        Labels: {},
        Orchestration: { TaskHistoryRetentionLimit: 5 },
        Raft: { SnapshotInterval: 10000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 },
        Dispatcher: { HeartbeatPeriod: 1_000_000_000 },
        CAConfig: { NodeCertExpiry: 7_776_000_000_000_000 },
        EncryptionConfig: { AutoLockManagers: false },
        TaskDefaults: {},
      },
      JoinTokens: { Worker: makeToken(clusterDigest(rootSecret)), Manager: makeToken(clusterDigest(rootSecret)) },
      RootRotationInProgress: false,
      ShoalRootSecret: rootSecret,
    };
    this.mustApply([{ op: 'create', kind: 'cluster', object: cluster }]);
    this.selfId = this.addNode({ hostname: opts.hostname ?? 'mgr-1', role: 'manager', leader: true, addr: '127.0.0.1' });
    return this.store.get('cluster', cluster.ID)!;
  }

  digest(): string {
    return clusterDigest(this.store.list('cluster')[0]!.ShoalRootSecret!);
  }

  addNode(s: NodeSeed): string {
    const id = s.id ?? newObjectId();
    const addr = s.addr ?? `10.0.0.${this.store.count('node') + 10}`;
    const role = s.role ?? 'worker';
    const node: Omit<Node, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
      ID: id,
      Spec: { Role: role, Availability: s.availability ?? 'active', Labels: s.labels ?? {} },
      Description: {
        Hostname: s.hostname,
        Platform: { Architecture: 'x86_64', OS: 'linux' },
        Resources: { NanoCPUs: 2_000_000_000, MemoryBytes: 4 * 1024 ** 3 },
        Engine: { EngineVersion: '0.1.0', Labels: s.engineLabels ?? {} },
        Runtimes: ['process'],
      },
      Status: { State: s.state ?? 'ready', Addr: addr },
      ...(role === 'manager' ? { ManagerStatus: { Leader: s.leader ?? false, Reachability: 'reachable', Addr: `${addr}:4242` } } : {}),
    };
    this.mustApply([{ op: 'create', kind: 'node', object: node }]);
    return id;
  }

  addTask(serviceId: string, slot: number, opts: { state?: TaskState; desired?: TaskState; nodeId?: string; labels?: Labels } = {}): string {
    const svc = this.store.get('service', serviceId);
    const id = newObjectId();
    const task: Omit<Task, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
      ID: id,
      ServiceID: serviceId,
      Slot: slot,
      NodeID: opts.nodeId ?? '',
      Spec: svc ? structuredClone(svc.Spec.TaskTemplate) : {},
      DesiredState: opts.desired ?? 'running',
      Status: { Timestamp: this.now(), State: opts.state ?? 'new', Message: 'created' },
      ...(opts.labels ? { Labels: opts.labels } : {}),
      ...(svc ? { SpecVersion: { Index: svc.Version.Index } } : {}),
    };
    this.mustApply([{ op: 'create', kind: 'task', object: task }]);
    return id;
  }

  /**
   * A toy orchestrator + scheduler + agent: after every service change, each
   * replicated slot gets a running task made from the current template on
   * this manager's node; tasks of old templates or excess slots are shut
   * down. Returns a function that stops it.
   */
  autoConverge(): () => void {
    let scheduled = false;
    const run = () => {
      scheduled = false;
      for (const s of this.store.list('service')) this.converge(s);
    };
    return this.store.watch((changes) => {
      if (scheduled || !changes.some((c) => c.kind === 'service')) return;
      scheduled = true;
      // Not from inside apply(): the store is mid-transaction there.
      setImmediate(run);
    });
  }

  private converge(s: Service): void {
    const replicas = s.Spec.Mode.Replicated?.Replicas ?? 0;
    const want = JSON.stringify(s.Spec.TaskTemplate);
    const live = this.store.tasksOfService(s.ID).filter((t) => t.DesiredState === 'running');
    const ops: StoreOp[] = [];
    const ts = this.now();
    for (const t of live) {
      if (t.Slot > replicas || JSON.stringify(t.Spec) !== want) {
        ops.push({ op: 'patchTask', id: t.ID, desiredState: 'shutdown', status: { Timestamp: ts, State: 'shutdown', Message: 'shutdown' } });
      }
    }
    for (let slot = 1; slot <= replicas; slot++) {
      if (live.some((t) => t.Slot === slot && JSON.stringify(t.Spec) === want)) continue;
      const task: Omit<Task, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
        ID: newObjectId(),
        ServiceID: s.ID,
        Slot: slot,
        NodeID: this.selfId,
        Spec: structuredClone(s.Spec.TaskTemplate),
        DesiredState: 'running',
        Status: { Timestamp: ts, State: 'running', Message: 'started' },
        SpecVersion: { Index: s.Version.Index },
      };
      ops.push({ op: 'create', kind: 'task', object: task });
    }
    if (ops.length > 0) this.mustApply(ops);
  }

  private mustNode(id: string): Node {
    const n = this.store.get('node', id);
    if (!n) throw new StoreError(StoreErrorCode.NOT_FOUND, `node ${id} not found`);
    return n;
  }

  /** Marks a task's status (forward only, as agents report). */
  setTaskState(taskId: string, state: TaskState, message = state): void {
    this.mustApply([{ op: 'patchTask', id: taskId, status: { Timestamp: this.now(), State: state, Message: message } }]);
  }
}
