import { verdictError } from './store/errors.js';
import { isRetryable } from '../util/errors.js';
import { ManagerError } from './errors.js';
export { ManagerError, type ManagerErrorCode } from './errors.js';
import { retry } from '../util/retry.js';
import { notLeaderRefusal } from './not-leader.js';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { RaftDriver, RaftDriverError } from '../raft/driver.js';
import { RaftError } from '../raft/errors.js';
import type { Transport } from '../wire/interface.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
import { defaultDispatcherOptions, type DispatcherOptions } from './dispatcher/options.js';
import { LeaseService } from './lease/service.js';
import type { LeaseOptions } from './lease/options.js';
import type { ManagerContext, ManagerStatusInfo } from './interface.js';
import { CaCertificate, CertRenew, Join, MembershipChange, type JoinResponse } from '../protocol/membership.js';
import { makeToken, newObjectId, roleForToken, base36 } from './membership/tokens.js';
import { signNode, tokenDigest } from './membership/ca.js';
import type { KeyPair } from '../wire/pki/x509.js';
import { encodeTxn, type StoreOp, type TxnResult } from './store/commands.js';
import { Store } from './store/store.js';
import type { Cluster, Node, Task } from '../model/index.js';
import { openNodeLogs, streamTaskLogs, type LogRequest, type NodeLogPump, type TaskLogLine } from './logs.js';
import type { NodeLogQuery, NodeLogReader } from '../protocol/logs.js';
import type { RaftOptions } from '../raft/options.js';
import type { ReconcileFn } from './orchestrator/interface.js';
import { OrchestratorLoop } from './leader/orchestrator-loop.js';
import { SchedulerLoop } from './leader/scheduler-loop.js';
import type { SyncMode } from '../raft/storage.js';
import { systemTimers, type TimerHandle, type Timers } from '../util/timers.js';
import { mayRetireOldGossipKey } from './membership/gossip-keys.js';
import { advanceCaRotation } from './membership/ca-rotation.js';
import { withRemovedNode } from './membership/deny-list.js';
import type { DataKey } from './secrets/data-key.js';
import { sealCa, withOpenCa } from './secrets/ca-key.js';
import { componentLogger, silentLogger, type Logger } from '../util/log/interface.js';

export interface ManagerOptions {
  nodeId: string;
  dataDir: string;
  /** This node's cluster address, host:port (the transport listens there). */
  addr: string;
  transport: Transport;
  /** Found a new cluster with this node as its only voter (`shoal init`). */
  found?: { clusterId: string; hostname: string; gossipKey: string; ca?: KeyPair };
  /** Cluster addresses of known managers (from the join response or the saved state). */
  peers?: Record<string, string>;
  tickMs?: number;
  raft?: Partial<RaftOptions>;
  /** Raft storage sync mode; 'OFF' only for the chaos harness's deliberately broken build. */
  raftSync?: SyncMode;
  dispatcher?: Partial<DispatcherOptions>;
  /** Fencing lease timings (manager/lease/options.ts). */
  lease?: Partial<LeaseOptions>;
  /** This node's supervisor is configured: see LeaseServiceDeps.fenceHandoff (lease/service.ts). */
  fenceHandoff?: Promise<number>;
  /** The orchestrator's decision function; without it the leader runs no orchestrator (tests of other parts). */
  reconcile?: ReconcileFn;
  /** Records carry component=manager (and each part's own: raft, lease, dispatcher, scheduler, orchestrator). */
  log?: Logger;
  /** Reads this manager's own node log (`shoal node logs` of itself); others are read over the transport. */
  localLogs?: NodeLogReader;
  /**
   * Clocks and timers for the dispatcher, the lease and the leader's loops
   * (default: the machine's). Its wall clock stamps times and feeds the
   * orchestrator's decisions; the chaos harness shifts it.
   */
  timers?: Timers;
  /**
   * The cluster data key (manager/secrets/data-key.ts): seals secret and
   * config data and the CA key in the store; given to joining managers.
   */
  dataKey?: DataKey;
}

/**
 * A manager: the Raft member holding the desired-state store, the control
 * operations behind the API (ManagerContext), membership (join, promote,
 * demote, remove), and — while it leads — the dispatcher and the loops that
 * act on the desired state (`onLeading` hooks).
 */
export class Manager implements ManagerContext {
  readonly store: Store;
  readonly driver: RaftDriver;
  readonly dispatcher: Dispatcher;
  readonly lease: LeaseService;
  readonly scheduler: SchedulerLoop;
  readonly orchestrator: OrchestratorLoop | null;
  private readonly logger: Logger;
  private leading = false;
  private readonly leadingHooks: ((leading: boolean) => void)[] = [];
  private stopped = false;

  private constructor(
    private readonly opts: ManagerOptions,
    store: Store,
    driver: RaftDriver,
  ) {
    this.logger = componentLogger(opts.log, 'manager');
    this.store = store;
    this.driver = driver;
    const timers = opts.timers ?? systemTimers;
    this.lease = new LeaseService({
      timers,
      transport: opts.transport,
      nodeId: opts.nodeId,
      store,
      raft: { status: () => driver.status(), authorityUntil: () => driver.authorityUntil() },
      addressOf: (id) => this.managerPeers().find((m) => m.nodeId === id)?.addr,
      agents: { absentSince: (id) => this.dispatcher.absentSince(id), markDown: (id, why) => this.dispatcher.markDown(id, why) },
      ...(opts.lease ? { options: opts.lease } : {}),
      ...(opts.fenceHandoff ? { fenceHandoff: opts.fenceHandoff } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    this.dispatcher = new Dispatcher({
      timers,
      transport: opts.transport,
      ctx: this,
      managers: () => this.managerPeers(),
      admit: (id) => this.lease.admit(id),
      fenceMs: this.lease.opts.fenceMs,
      ...(opts.dispatcher ? { options: opts.dispatcher } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    const log = opts.log ?? silentLogger;
    this.scheduler = new SchedulerLoop(this, log, timers);
    this.orchestrator = opts.reconcile ? new OrchestratorLoop(this, opts.reconcile, log, timers) : null;
    opts.transport.onRequest(Join, (b) => this.handleJoin(b));
    opts.transport.onRequest(CaCertificate, () => {
      const ca = this.store.list('cluster')[0]?.ShoalCA;
      if (!ca) throw new ManagerError('UNAVAILABLE', 'this cluster has no certificate authority yet; try again');
      return { caCertificate: ca.CertPem };
    });
    opts.transport.onRequest(CertRenew, (b, conn) => this.renewCertificate(b.csr, conn.peer));
    opts.transport.onRequest(MembershipChange, async (b) => {
      this.requireLeader();
      if (b.action === 'promote') await this.promote(b.nodeId);
      else if (b.action === 'demote') await this.demote(b.nodeId);
      else await this.removeNode(b.nodeId, b.action === 'remove-force');
      return { done: 'ok' as const };
    });
  }

  static async start(opts: ManagerOptions): Promise<Manager> {
    mkdirSync(opts.dataDir, { recursive: true });
    const store = new Store();
    const driver = await RaftDriver.start({
      id: opts.nodeId,
      dataPath: path.join(opts.dataDir, 'raft.sqlite'),
      transport: opts.transport,
      stateMachine: store,
      peers: { ...opts.peers },
      ...(opts.found ? { founding: { voters: [opts.nodeId], learners: [] } } : {}),
      ...(opts.tickMs ? { tickMs: opts.tickMs } : {}),
      ...(opts.raft ? { raft: opts.raft } : {}),
      ...(opts.raftSync ? { sync: opts.raftSync } : {}),
      ...(opts.log ? { log: opts.log } : {}),
    });
    const self = new Manager(opts, store, driver);
    store.watch((changes) => {
      // Keep Raft's address book in step with the managers recorded in the store.
      for (const c of changes) if (c.kind === 'node' && c.action !== 'delete') self.learnAddress(c.object as Node);
    });
    for (const n of store.list('node')) self.learnAddress(n);
    driver.onLeaderChange((_leader, role) => {
      self.setLeading(role === 'leader');
      self.lease.sync();
    });
    if (driver.isLeader) self.setLeading(true);
    self.lease.start();
    return self;
  }

  onLeading(fn: (leading: boolean) => void): void {
    this.leadingHooks.push(fn);
    if (this.leading) fn(true);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private setLeading(leading: boolean): void {
    if (leading === this.leading || this.stopped) return;
    this.leading = leading;
    if (leading) {
      void this.bootstrap().catch((err: Error) => this.logger.error(`bootstrap: ${err.message}`));
      // Decisions only once this leader has applied everything committed
      // before it took over, so it never acts on a stale view. The dispatcher
      // too: a session opens with the node's full assignment set and network
      // plan, and a new leader may hold entries the old one committed that it
      // has not applied yet (it learns their commit only with its own term's
      // first entry). A full set built before that could miss a task the node
      // already runs, and the node would stop it until the next push.
      void this.afterBarrier().then(
        () => {
          if (!this.leading || this.stopped) return;
          this.dispatcher.startLeading();
          this.scheduler.start();
          this.orchestrator?.start();
          this.promoteLearners();
          this.keyTimer = this.timers.setInterval(() => {
            this.promoteLearners();
            void this.retireGossipKey().catch((err: Error) => this.logger.warn(`gossip key: ${err.message}`));
            void this.stepCaRotation().catch((err: Error) => this.logger.warn(`CA rotation: ${err.message}`));
          }, 1_000);
        },
      );
    } else {
      this.dispatcher.stopLeading();
      this.scheduler.stop();
      this.orchestrator?.stop();
      this.timers.clear(this.keyTimer);
      this.keyTimer = null;
    }
    for (const fn of this.leadingHooks) fn(leading);
  }

  private keyTimer: TimerHandle | null = null;

  /** Resolves once a read barrier passed while this manager still leads (retried until then). */
  private async afterBarrier(): Promise<void> {
    await retry(() => this.driver.readBarrier(), {
      what: 'the new leader\'s read barrier',
      deadlineMs: Infinity,
      retryable: () => true,
      backoff: { initialMs: 50, maxMs: 500 },
      stopped: () => !this.leading || this.stopped,
      onRetry: (err) => this.logger.warn(`leader barrier: ${(err as Error).message}; retrying`),
      sleep: (ms) => new Promise<void>((r) => this.timers.setTimeout(r, ms)),
      now: () => this.timers.now(),
    }).catch(() => undefined); // only when it stopped leading (or the manager stopped)
  }

  private get timers(): Timers {
    return this.opts.timers ?? systemTimers;
  }

  /** Step 3 of a gossip key rotation (membership/gossip-keys.ts): the old key goes once no connected node sends with it. */
  private async retireGossipKey(): Promise<void> {
    const c = this.store.list('cluster')[0];
    if (!c || !mayRetireOldGossipKey(c, this.dispatcher.gossipKeyIds(), this.timers.wall())) return;
    const keys = c.ShoalGossipKeys!;
    const r = await this.commit([{ op: 'update', kind: 'cluster', object: { ...c, ShoalGossipKeys: [keys[0]!] }, expect: c.Version.Index }]);
    if (r.ok) this.logger.info('gossip key rotation done: the old key is retired');
  }

  /** The next step of a root CA rotation (membership/ca-rotation.ts), once every ready node has done its part. */
  private async stepCaRotation(): Promise<void> {
    const c = this.store.list('cluster')[0];
    if (!c?.ShoalCARotation) return;
    const ready = this.store
      .list('node')
      .filter((n) => n.Status.State === 'ready')
      .map((n) => n.ID);
    const next = advanceCaRotation(c, ready, this.dispatcher.caReports());
    if (!next) return;
    const r = await this.commit([{ op: 'update', kind: 'cluster', object: next, expect: c.Version.Index }]);
    if (r.ok) this.logger.info(next.ShoalCARotation ? 'CA rotation: every node trusts the new root; managers now sign with it' : 'CA rotation done: the new root is the cluster CA (join tokens changed)');
  }

  private learnAddress(n: Node): void {
    const a = n.ManagerStatus?.Addr;
    if (a && n.ID !== this.opts.nodeId) this.driver.setPeerAddress(n.ID, a);
  }

  /**
   * First leadership of a founded cluster: write the Cluster object and this
   * node. Idempotent: a restarted founder finds them there.
   */
  private async bootstrap(): Promise<void> {
    const f = this.opts.found;
    if (!f) return;
    // Wait until the new leader has applied everything committed before us.
    await this.driver.readBarrier();
    if (this.store.list('cluster').length > 0) return;
    const root = base36(40);
    // The CA key goes into the Raft log sealed: only managers (holders of the data key) can open it.
    const ca = f.ca ? sealCa(f.clusterId, { CertPem: f.ca.certPem, KeyPem: f.ca.keyPem }, this.opts.dataKey ?? null) : undefined;
    const digest = tokenDigest({ ShoalRootSecret: root, ...(ca ? { ShoalCA: ca } : {}) });
    const cluster: Omit<Cluster, 'Version' | 'CreatedAt' | 'UpdatedAt'> & { ShoalRootSecret: string; ShoalGossipKey: string } = {
      ID: f.clusterId,
      Spec: { Name: 'default', Orchestration: { TaskHistoryRetentionLimit: 5 }, Raft: { SnapshotInterval: 10_000, KeepOldSnapshots: 0, LogEntriesForSlowFollowers: 500, ElectionTick: 10, HeartbeatTick: 1 }, Dispatcher: { HeartbeatPeriod: (this.opts.dispatcher?.heartbeatMs ?? defaultDispatcherOptions.heartbeatMs) * 1e6 }, CAConfig: {}, EncryptionConfig: { AutoLockManagers: false }, TaskDefaults: {} },
      JoinTokens: { Worker: makeToken(digest), Manager: makeToken(digest) },
      RootRotationInProgress: false,
      ShoalRootSecret: root,
      ShoalGossipKey: f.gossipKey,
      ...(ca ? { ShoalCA: ca } : {}),
    };
    const [host] = splitHost(this.opts.addr);
    const node: Omit<Node, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
      ID: this.opts.nodeId,
      Spec: { Role: 'manager', Availability: 'active', Labels: {} },
      Description: { Hostname: f.hostname, Platform: { OS: process.platform, Architecture: process.arch }, Resources: {}, Engine: {} },
      Status: { State: 'unknown', Addr: host },
      ManagerStatus: { Reachability: 'reachable', Addr: this.opts.addr },
    };
    const r = await this.commit([
      { op: 'create', kind: 'cluster', object: cluster },
      { op: 'create', kind: 'node', object: node },
    ]);
    if (!r.ok && r.code !== 'NAME_CONFLICT') throw verdictError(r);
  }

  // ------------------------------------------------------ ManagerContext

  /**
   * Linearizable read barrier. A read is idempotent, so when the leader
   * changes (or none is known yet) under it, it is retried for a little
   * while rather than failing the caller during a failover.
   */
  async readBarrier(): Promise<void> {
    return retry(() => this.driver.readBarrier(), {
      what: 'a linearizable read',
      deadlineMs: 3_000,
      // A read may be repeated whatever happened to it, so LEADER_CHANGED is retried here too.
      retryable: (err) => isRetryable(err) || (err instanceof RaftDriverError && err.code === 'LEADER_CHANGED'),
      backoff: { initialMs: 20, maxMs: 200 },
      // Raft's hint is a node ID: the read goes through this node's driver whoever leads.
      maxRedirects: 0,
      stopped: () => this.stopped,
      exhausted: 'last',
    });
  }

  async commit(ops: StoreOp[]): Promise<TxnResult> {
    return (await this.driver.propose(encodeTxn({ time: this.now(), ops }))) as TxnResult;
  }

  newId(): string {
    return newObjectId();
  }

  dataKey(): DataKey | null {
    return this.opts.dataKey ?? null;
  }

  now(): string {
    return new Date((this.opts.timers ?? systemTimers).wall()).toISOString();
  }

  status(): ManagerStatusInfo {
    const st = this.driver.status();
    const managers = [...st.conf.voters.map((id) => ({ id, voter: true })), ...st.conf.learners.map((id) => ({ id, voter: false }))].map(({ id, voter }) => {
      const n = this.store.get('node', id);
      return { nodeId: id, addr: id === this.opts.nodeId ? this.opts.addr : (n?.ManagerStatus?.Addr ?? ''), reachable: id === this.opts.nodeId || n?.Status.State !== 'down', voter };
    });
    return {
      nodeId: this.opts.nodeId,
      addr: this.opts.addr,
      isLeader: st.role === 'leader',
      leaderId: st.leader,
      managers,
      raft: { term: st.term, commit: st.commit, applied: st.applied },
    };
  }

  managerPeers(): { nodeId: string; addr: string }[] {
    return this.status()
      .managers.filter((m) => m.addr)
      .map((m) => ({ nodeId: m.nodeId, addr: m.addr }));
  }

  async promote(nodeId: string): Promise<void> {
    if (!this.leading) return this.forward('promote', nodeId);
    const n = this.store.get('node', nodeId);
    if (!n) throw new ManagerError('NOT_FOUND', `node ${nodeId} not found`);
    const addr = n.ManagerStatus?.Addr ?? n.ShoalAddrs?.Cluster;
    if (!addr) throw new ManagerError('FAILED_PRECONDITION', `node ${nodeId} has never connected: its cluster address is unknown`);
    if (!this.driver.status().conf.voters.includes(nodeId)) {
      if (!this.driver.status().conf.learners.includes(nodeId)) await this.confChange(`adding ${nodeId} as a learner`, () => this.driver.addLearner(nodeId, addr));
      await this.updateNode(nodeId, (x) => ({ ...x, Spec: { ...x.Spec, Role: 'manager' }, ManagerStatus: { Reachability: 'unknown', Addr: addr } }));
      void this.promoteWhenCaughtUp(nodeId);
    } else {
      await this.updateNode(nodeId, (x) => ({ ...x, Spec: { ...x.Spec, Role: 'manager' }, ManagerStatus: { Reachability: 'reachable', Addr: addr } }));
    }
  }

  async demote(nodeId: string): Promise<void> {
    if (!this.leading) return this.forward('demote', nodeId);
    const conf = this.driver.status().conf;
    if (conf.voters.includes(nodeId) && conf.voters.length <= 1) throw new ManagerError('FAILED_PRECONDITION', 'cannot demote the last manager');
    if (conf.voters.includes(nodeId) || conf.learners.includes(nodeId)) await this.confChange(`removing ${nodeId} from the managers`, () => this.driver.removeNode(nodeId));
    await this.updateNode(nodeId, (x) => {
      const { ManagerStatus: _drop, ...rest } = x;
      void _drop;
      return { ...rest, Spec: { ...x.Spec, Role: 'worker' } } as Node;
    });
  }

  async removeNode(nodeId: string, force: boolean): Promise<void> {
    if (!this.leading) return this.forward(force ? 'remove-force' : 'remove', nodeId);
    const n = this.store.get('node', nodeId);
    if (!n) throw new ManagerError('NOT_FOUND', `node ${nodeId} not found`);
    if (!force && n.Status.State !== 'down') throw new ManagerError('FAILED_PRECONDITION', `node ${nodeId} is not down and can't be removed (use --force)`);
    const conf = this.driver.status().conf;
    if (conf.voters.includes(nodeId) && !force) throw new ManagerError('FAILED_PRECONDITION', `node ${nodeId} is a manager: demote it first`);
    if (conf.voters.includes(nodeId) || conf.learners.includes(nodeId)) await this.confChange(`removing ${nodeId} from the managers`, () => this.driver.removeNode(nodeId));
    // One transaction: the node goes, and onto the deny list workers enforce (membership/deny-list.ts).
    // The cluster object may change under us (a token rotation): read it again and retry.
    for (let attempt = 0; ; attempt++) {
      const cluster = this.store.list('cluster')[0];
      const deny = cluster ? [{ op: 'update' as const, kind: 'cluster' as const, object: withRemovedNode(cluster, nodeId, this.now()), expect: cluster.Version.Index }] : [];
      const r = await this.commit([{ op: 'delete', kind: 'node', id: nodeId }, ...deny]);
      if (r.ok) return;
      if (r.code !== 'VERSION_CONFLICT' || attempt >= 4) throw new ManagerError('FAILED_PRECONDITION', r.message);
    }
  }

  /**
   * A change of the Raft configuration, waiting its turn. Raft takes one at a
   * time and refuses another while the last is uncommitted
   * (CONF_CHANGE_PENDING): a demotion that came while the node's promotion
   * to voter was in flight failed with it (a fresh clone's
   * secrets/cluster test: promote, then demote). It waits now, up to 10 s:
   * a change commits in one round trip to a quorum.
   */
  private confChange(what: string, change: () => Promise<void>): Promise<void> {
    return retry(change, {
      what,
      deadlineMs: 10_000,
      retryable: (err) => err instanceof RaftError && err.code === 'CONF_CHANGE_PENDING',
      backoff: { initialMs: 50, maxMs: 500 },
      stopped: () => !this.leading || this.stopped,
      exhausted: 'last',
    });
  }

  /** The store still wants `nodeId` as a manager (not demoted or removed meanwhile). */
  private wantsManager(nodeId: string): boolean {
    return this.store.get('node', nodeId)?.Spec.Role === 'manager';
  }

  /** Learners whose promotion runs on this leader now (promoteWhenCaughtUp), so none runs twice. */
  private readonly promoting = new Set<string>();

  /**
   * Every learner the store wants as a manager is being promoted by this
   * leader. A promotion runs on the leader that added the learner, and stops
   * when that one stops leading or its deadline passes: without this the
   * learner stayed one for good, and a `shoal up` whose first leader lost an
   * election while a joining manager caught up waited for it until its
   * timeout. Run when leading begins and every second after.
   */
  private promoteLearners(): void {
    if (!this.leading || this.stopped) return;
    for (const id of this.driver.status().conf.learners) {
      if (this.wantsManager(id)) void this.promoteWhenCaughtUp(id);
    }
  }

  private async promoteWhenCaughtUp(nodeId: string, deadlineMs = 120_000): Promise<void> {
    if (this.promoting.has(nodeId)) return;
    this.promoting.add(nodeId);
    let growing: { end(): void } | null = null;
    try {
      // A one-voter cluster first lets every "sole manager" grant run out (lease/sole-manager.ts).
      growing = await this.lease.beforeVoterAdded();
      const promoted = await retry(
        async () => {
          // Demoted or removed while it caught up (or while the wait above ran): nothing to promote.
          if (!this.wantsManager(nodeId)) return false;
          const conf = this.driver.status().conf;
          if (!conf.voters.includes(nodeId)) {
            if (!conf.learners.includes(nodeId)) return false;
            await this.driver.addVoter(nodeId);
          }
          await this.updateNode(nodeId, (x) => (x.Spec.Role === 'manager' ? { ...x, ManagerStatus: { Reachability: 'reachable', Addr: x.ManagerStatus?.Addr ?? '' } } : x));
          return true;
        },
        {
          what: `promoting ${nodeId}`,
          deadlineMs,
          // Whatever failed, try again while this node leads: the learner stays one until promoted.
          retryable: () => true,
          backoff: { initialMs: 100, maxMs: 1_000 },
          stopped: () => !this.leading || this.stopped,
          onRetry: (err) => {
            if (!(err instanceof RaftError) || (err.code !== 'LEARNER_BEHIND' && err.code !== 'CONF_CHANGE_PENDING')) this.logger.warn({ peer: nodeId }, `promoting ${nodeId}: ${(err as Error).message}`);
          },
        },
      );
      if (promoted) this.logger.info({ peer: nodeId }, `${nodeId} caught up and was promoted to voter`);
      else this.logger.info({ peer: nodeId }, `${nodeId} is no longer to be a manager: not promoted`);
    } catch (err) {
      // Leadership moved (the next leader promotes it) or the deadline passed (promoteLearners tries again).
      this.logger.warn({ peer: nodeId }, `${nodeId} was not promoted: ${(err as Error).message}`);
    } finally {
      this.promoting.delete(nodeId);
      growing?.end();
    }
  }

  private async updateNode(nodeId: string, f: (n: Node) => Node): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const cur = this.store.get('node', nodeId);
      if (!cur) throw new ManagerError('NOT_FOUND', `node ${nodeId} not found`);
      const r = await this.commit([{ op: 'update', kind: 'node', object: f(cur), expect: cur.Version.Index }]);
      if (r.ok) return;
      if (r.code !== 'VERSION_CONFLICT') throw new ManagerError('FAILED_PRECONDITION', r.message);
    }
  }

  private async forward(action: 'promote' | 'demote' | 'remove' | 'remove-force', nodeId: string): Promise<void> {
    const st = this.status();
    const leader = st.managers.find((m) => m.nodeId === st.leaderId);
    if (!leader?.addr) throw new ManagerError('UNAVAILABLE', 'no leader is known right now; try again');
    const conn = await this.opts.transport.connect(leader.addr, { expectNodeId: leader.nodeId, timeoutMs: 2_000 });
    try {
      await conn.request(MembershipChange, { action, nodeId }, { timeoutMs: 60_000 });
    } finally {
      conn.close('done');
    }
  }

  private requireLeader(): void {
    if (!this.leading) {
      const r = notLeaderRefusal(this.status());
      throw new ManagerError('NOT_LEADER', r.message, r.leader);
    }
  }

  taskLogs(tasks: Task[], req: LogRequest, onLine: (l: TaskLogLine) => void, signal: AbortSignal): Promise<void> {
    return streamTaskLogs(this.opts.transport, this.store, tasks, req, onLine, signal);
  }

  nodeLogs(nodeId: string, q: NodeLogQuery, signal: AbortSignal): Promise<NodeLogPump> {
    if (nodeId === this.opts.nodeId) {
      const local = this.opts.localLogs;
      if (!local) return Promise.reject(new ManagerError('UNAVAILABLE', 'this manager keeps no log it can read back (started without a log)'));
      return Promise.resolve((onLine) => local(q, onLine, signal));
    }
    return openNodeLogs(this.opts.transport, this.store, nodeId, q, signal);
  }

  // --------------------------------------------------------------- join

  /**
   * A node joins. Its role is the token's; its certificate (when it sent a
   * CSR) names the node ID, that role and this cluster. Join never
   * overwrites a node: an ID already in the store is refused, unless it is
   * the same node asking again (its earlier join committed but the answer
   * was lost) — proven by a CSR for the same key, recorded at the first join.
   */
  private async handleJoin(b: { token: string; nodeId: string; hostname: string; clusterAddr: string; gossipAddr: string; csr?: string | undefined }): Promise<JoinResponse> {
    this.requireLeader();
    await this.driver.readBarrier();
    const cluster = this.store.list('cluster')[0] as (Cluster & { ShoalGossipKey?: string }) | undefined;
    if (!cluster) throw new ManagerError('UNAVAILABLE', 'the cluster is still bootstrapping; try again');
    let role: 'worker' | 'manager';
    try {
      role = roleForToken(b.token, cluster.JoinTokens);
    } catch (err) {
      throw new ManagerError('INVALID_TOKEN', (err as Error).message);
    }
    if (b.csr !== undefined && !cluster.ShoalCA) throw new ManagerError('UNAVAILABLE', 'this cluster has no certificate authority to sign the node certificate');
    const keyId = b.csr !== undefined ? await csrKeyId(b.csr) : undefined;
    const existing = this.store.get('node', b.nodeId);
    if (existing && (keyId === undefined || existing.ShoalKeyId !== keyId || existing.Spec.Role !== role)) {
      throw new ManagerError('NODE_EXISTS', `node ID ${b.nodeId} is already in the cluster; a joining node needs a new ID (an empty data dir)`);
    }
    const signed = b.csr !== undefined ? await signNode(withOpenCa(cluster, this.dataKey()), b.csr, b.nodeId, role) : null;
    if (!existing) {
      const [host] = splitHost(b.clusterAddr);
      const node: Omit<Node, 'Version' | 'CreatedAt' | 'UpdatedAt'> = {
        ID: b.nodeId,
        Spec: { Role: role, Availability: 'active', Labels: {} },
        Description: { Hostname: b.hostname, Platform: { OS: 'linux', Architecture: process.arch }, Resources: {}, Engine: {} },
        Status: { State: 'unknown', Addr: host },
        ShoalAddrs: { Cluster: b.clusterAddr, Gossip: b.gossipAddr },
        ...(keyId !== undefined ? { ShoalKeyId: keyId } : {}),
        ...(role === 'manager' ? { ManagerStatus: { Reachability: 'unknown' as const, Addr: b.clusterAddr } } : {}),
      };
      // create (not update): two joins racing for one ID cannot both win.
      const r = await this.commit([{ op: 'create', kind: 'node', object: node }]);
      if (!r.ok) throw r.code === 'NAME_CONFLICT' ? new ManagerError('NODE_EXISTS', `node ID ${b.nodeId} is already in the cluster`) : new ManagerError('FAILED_PRECONDITION', r.message);
    }
    if (role === 'manager' && !this.driver.status().conf.voters.includes(b.nodeId)) {
      if (!this.driver.status().conf.learners.includes(b.nodeId)) await this.confChange(`adding ${b.nodeId} as a learner`, () => this.driver.addLearner(b.nodeId, b.clusterAddr));
      void this.promoteWhenCaughtUp(b.nodeId);
    }
    return {
      clusterId: cluster.ID,
      nodeId: b.nodeId,
      role,
      gossipKey: cluster.ShoalGossipKey ?? '',
      managers: this.managerPeers(),
      ...(signed ? { certificate: signed.certificate, caCertificate: signed.caCertificate } : {}),
      // Managers seal and open secret data: they get the data key (over this mutual-TLS connection); workers never do.
      ...(role === 'manager' && this.opts.dataKey ? { dataKey: this.opts.dataKey.toBase64() } : {}),
    };
  }

  /**
   * A node renews its certificate, over a connection its current one
   * authenticated. The new one names the same node, in the role the store
   * gives it now (a promotion or demotion takes effect here); a node no
   * longer in the cluster gets none.
   */
  private async renewCertificate(csr: string, peer: { nodeId: string; authenticated: boolean }): Promise<{ certificate: string; caCertificate: string; role: 'manager' | 'worker'; dataKey?: string }> {
    if (!peer.authenticated) throw new ManagerError('PERMISSION_DENIED', 'renewing a certificate needs the current one');
    this.requireLeader();
    await this.driver.readBarrier();
    const cluster = this.store.list('cluster')[0];
    if (!cluster) throw new ManagerError('UNAVAILABLE', 'the cluster is still bootstrapping; try again');
    const node = this.store.get('node', peer.nodeId);
    if (!node) throw new ManagerError('NOT_FOUND', `node ${peer.nodeId} is not in the cluster`);
    const role = node.Spec.Role;
    // A worker promoted to manager learns the data key here, with its manager certificate.
    const key = role === 'manager' && this.opts.dataKey ? { dataKey: this.opts.dataKey.toBase64() } : {};
    return { ...(await signNode(withOpenCa(cluster, this.dataKey()), csr, peer.nodeId, role)), role, ...key };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clear(this.keyTimer);
    this.lease.stop();
    this.dispatcher.close();
    this.opts.transport.off(Join);
    this.opts.transport.off(CaCertificate);
    this.opts.transport.off(CertRenew);
    this.opts.transport.off(MembershipChange);
    this.scheduler.stop();
    this.orchestrator?.stop();
    await this.driver.stop();
  }

}

/** Which key a CSR is for (the digest of its public key), to recognise a node asking again. */
async function csrKeyId(csrPem: string): Promise<string> {
  try {
    return (await import('../wire/pki/x509.js')).publicKeyId(csrPem);
  } catch (err) {
    throw new ManagerError('INVALID_TOKEN', `the join request's CSR cannot be read: ${(err as Error).message}`);
  }
}

function splitHost(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), addr.slice(i + 1)];
}
