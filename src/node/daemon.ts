import { retry, RetryExhaustedError } from '../util/retry.js';
import { systemTimers } from '../util/timers.js';
import os from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GossipDriver } from '../gossip/driver.js';
import { Keyring } from '../gossip/keyring.js';
import { Manager } from '../manager/manager.js';
import { CaCertificate, CertRenew, Join, type JoinResponse } from '../protocol/membership.js';
import { gossipKeyId } from '../protocol/dispatcher.js';
import { newObjectId, parseToken } from '../manager/membership/tokens.js';
// The X.509 library takes ~180 ms to load: only when a certificate is made or read (init, join, renewal).
const x509 = () => import('../wire/pki/x509.js');
// Not through x509.ts: a joining or renewing node needs no X.509 library to ask for a certificate.
import { createNodeKey } from '../wire/pki/csr.js';
import { certDigest, renewalAt } from '../wire/pki/identity.js';
import { loadDataKey, loadFounderCaKey, loadNodeTls, removeDataKey, removeFounderCaKey, saveDataKey, saveFounderCaKey, saveNodeTls, tlsDir, type NodeTls } from './tls-files.js';
import { DataKey } from '../manager/secrets/data-key.js';
import { nodeAccessPolicy } from './access.js';
import { adminBundleDir, writeAdminBundle } from './admin-bundle.js';
import { serveApiSocket, serveApiTls } from './api-endpoints.js';
import { apiSocketPath } from './api-socket-path.js';
import { nodeSigner, pemBundle, trustedRoots } from '../manager/membership/ca.js';
import { caReportOf, issuerRootId } from './ca-trust.js';
import { withOpenCa } from '../manager/secrets/ca-key.js';
import { WireError } from '../wire/errors.js';
import { WsTransport } from '../wire/ws-transport.js';
import { loadIdentity, saveIdentity, type NodeIdentity } from './state.js';
import { SessionClient } from '../worker/agent/session.js';
import { Agent } from '../worker/agent/agent.js';
import { serveTaskLogs } from '../worker/agent/logs.js';
import { LinuxDataPlane, linuxDataPlaneUnavailable } from '../overlay-net/linux.js';
import { NETNS_RECORD_FILE } from '../overlay-net/dataplane/record.js';
import { TaskNetworks } from '../worker/agent/task-networks.js';
import { createRuntime, RUNTIME_NAMES, type Runtime, type RuntimeOptions } from '../worker/runtime/index.js';
import { SupervisorClient } from '../worker/supervisor/client.js';
import { monotonicMs } from '../util/monotonic.js';
import { forkerAvailable } from '../worker/supervisor/forker.js';
import { useHelperForker } from '../worker/runtime/common/capture.js';
import { resolveCommon } from '../worker/runtime/options.js';
import { tasksRoot } from '../worker/runtime/common/task-dir.js';
import type { Node, TaskStatus } from '../model/index.js';
import { createApiServer, type ApiServer } from '../manager/api/index.js';
import { reconcile } from '../manager/orchestrator/index.js';
import { packageVersion } from '../util/version.js';
import { CLUSTER_MESSAGES } from '../protocol/index.js';
import { registry } from '../wire/registry.js';
import { aliveManagerAddrs } from './gossip-managers.js';
import { watchStalls } from './stall-monitor.js';
import type { DaemonHooks } from './hooks.js';
import type { DaemonOptions } from './options.js';
import { DaemonError } from './errors.js';
import { nodeMetrics, type NodeMetrics } from './metrics/exporter.js';
import { serveMetrics, type MetricsEndpoint } from './metrics/http.js';

export { DaemonError } from './errors.js';
export type { DaemonOptions } from './options.js';



import { OCI_RUNTIME_NAMES, type OciRuntimeName } from '../model/runtime-names.js';
import { silentLogger, type Logger } from '../util/log/interface.js';
import { serveNodeLogs } from './node-logs.js';
import { peerBlobSource, peerImageSource, serveImages, type BlobPeer } from '../worker/agent/image-peers.js';
import { ImageStore } from '../worker/runtime/images/store.js';
import { nodeCredentials } from '../worker/runtime/images/registry.js';
export { OCI_RUNTIME_NAMES, type OciRuntimeName };

/** How this node's runtimes are configured: from the daemon options and the saved identity (`--oci-runtime` is remembered there). */
/** How often a node looks whether its image store changed. */
const IMAGE_REPORT_MS = 5_000;

export function runtimeOptions(identity: Pick<NodeIdentity, 'ociRuntime'>, opts: Pick<DaemonOptions, 'dataDir' | 'dockerSocket'>, log: Logger): RuntimeOptions {
  const oci = identity.ociRuntime;
  if (oci !== undefined && !(OCI_RUNTIME_NAMES as readonly string[]).includes(oci)) throw new DaemonError(`the saved OCI runtime must be one of ${OCI_RUNTIME_NAMES.join(', ')}, got ${JSON.stringify(oci)}`);
  return {
    dataDir: opts.dataDir,
    log,
    ...(oci ? { oci: { runtime: oci as OciRuntimeName } } : {}),
    ...(opts.dockerSocket ? { docker: { socketPath: opts.dockerSocket } } : {}),
  };
}

/**
 * One node process: the cluster transport, gossip, and — on managers — the
 * Raft member with the store, dispatcher and API. (The task agent joins
 * this process with the workers issue.)
 */
export class Daemon {
  manager: Manager | null = null;
  api: ApiServer | null = null;
  /** The control API's unix socket (managers serve on it). */
  get apiSocket(): string {
    return this.opts.apiSocket ?? apiSocketPath(this.opts.dataDir);
  }
  get dataDir(): string {
    return this.opts.dataDir;
  }
  private apiTls: { stop(): void; refresh(): Promise<void> } | null = null;
  private apiTlsStarting = false;
  session: SessionClient | null = null;
  agent: Agent | null = null;
  /** The node's task supervisor: the parent of every process and oci task, and the keeper of the fencing lease. */
  supervisor: SupervisorClient | null = null;
  /**
   * Settles once startAgent has configured the supervisor, with the monotonic
   * ms until which it may hold tasks on an earlier incarnation's sole-manager
   * grant (0: none). This node's manager adds no voter before
   * (manager/lease/sole-manager.ts).
   */
  private fenceConfigured!: (graceUntil: number) => void;
  private readonly fenceHandoff = new Promise<number>((resolve) => (this.fenceConfigured = resolve));
  /** The node's overlay data plane and the agent's side of it (null: none here, see startDataPlane). */
  private dataPlane: LinuxDataPlane | null = null;
  private networks: TaskNetworks | null = null;
  /** Task reports made before the agent session existed (see startAgent). */
  private readonly earlyReports: { taskId: string; status: TaskStatus }[] = [];
  private readonly runtimes = new Map<string, Runtime>();
  private stopLogs: (() => void) | null = null;
  private stopNodeLogs: (() => void) | null = null;
  private stopImageBlobs: (() => void) | null = null;
  private imageStore: ImageStore | null = null;
  private imageWatch: NodeJS.Timeout | null = null;
  private reportedImages = '';
  private stopStallWatch: (() => void) | null = null;
  private stopped = false;
  private metricsMade: NodeMetrics | null = null;
  private metricsEndpoint: MetricsEndpoint | null = null;
  private roleChange: Promise<void> = Promise.resolve();

  /** This node's records: `root` names the node, `log` is the daemon's own (component=node). */
  private readonly root: Logger;
  private readonly log: Logger;

  private constructor(
    readonly identity: NodeIdentity,
    readonly transport: WsTransport,
    readonly gossip: GossipDriver,
    private readonly opts: DaemonOptions,
    /** What a test composition root put between the parts (hooks.ts); {} in the product. */
    private readonly hooks: DaemonHooks,
  ) {
    this.root = (opts.log ?? silentLogger).child({ node: identity.nodeId });
    this.log = this.root.child({ component: 'node' });
  }

  /**
   * This node's Prometheus registry: GET /metrics on the API (managers) and on --metrics-addr.
   * Made on first use: prom-client's process collectors start an event-loop-delay monitor (a
   * timer every 10 ms) and a GC observer, and building the families costs ~50 ms of a start;
   * a node nobody scrapes pays neither.
   */
  get metrics(): NodeMetrics {
    this.metricsMade ??= nodeMetrics({
      nodeId: this.identity.nodeId,
      transport: () => this.transport,
      gossip: () => this.gossip,
      manager: () => this.manager,
      api: () => this.api,
      agent: () => this.agent,
      session: () => this.session,
      dataPlane: () => this.dataPlane,
      logRecords: () => this.opts.logRecords?.() ?? null,
    });
    return this.metricsMade;
  }

  static async start(given: DaemonOptions): Promise<Daemon> {
    // Absolute from here on: the task supervisor runs in / (it outlives this process and its cwd), and
    // `shoal run --data-dir node1` must mean the same directory to both.
    const opts: DaemonOptions = { ...given, dataDir: path.resolve(given.dataDir) };
    // Every cluster message, known before the first frame arrives (nothing registers on import).
    registry.add(...CLUSTER_MESSAGES);
    let identity = loadIdentity(opts.dataDir);
    if (opts.runtime && !RUNTIME_NAMES.includes(opts.runtime)) throw new DaemonError(`--runtime must be one of ${RUNTIME_NAMES.join(', ')}, got ${JSON.stringify(opts.runtime)}`);
    if (opts.ociRuntime && !OCI_RUNTIME_NAMES.includes(opts.ociRuntime)) throw new DaemonError(`--oci-runtime must be one of ${OCI_RUNTIME_NAMES.join(', ')}, got ${JSON.stringify(opts.ociRuntime)}`);
    if (identity && (opts.init || opts.join)) {
      throw new DaemonError(`${opts.dataDir} already belongs to cluster ${identity.clusterId} as node ${identity.nodeId}; start it with \`shoal run --data-dir ${opts.dataDir}\` or use an empty data dir`);
    }
    if (!identity && !opts.init && !opts.join) {
      throw new DaemonError(`${opts.dataDir} holds no node: create a cluster with \`shoal init\` or join one with \`shoal join --token … ADDR\``);
    }
    const advertiseAddr = identity?.advertiseAddr ?? opts.advertiseAddr ?? '127.0.0.1:4242';
    const [host, portStr] = splitAddr(advertiseAddr);
    const nodeId = identity?.nodeId ?? newObjectId();
    // Every record of this process names the node; each part adds its component.
    const root = (opts.log ?? silentLogger).child({ node: nodeId });
    const log = root.child({ component: 'node' });
    const hooks = opts.hooks?.(nodeId, opts.dataDir, root) ?? {};
    // The node's certificate first: every connection it makes or takes is mutual TLS.
    if (!identity) {
      const hostname = opts.hostname ?? os.hostname();
      const apiAddr = opts.apiAddr ? { apiAddr: opts.apiAddr } : {};
      if (opts.init) {
        const clusterId = newObjectId();
        const { createRootCa, issueNodeCertificate, issueAdminCertificate } = await x509();
        const ca = await createRootCa(clusterId);
        const key = await createNodeKey(nodeId);
        const certPem = await issueNodeCertificate(ca, key.csrPem, { nodeId, role: 'manager', clusterId });
        saveFounderCaKey(opts.dataDir, ca.keyPem);
        // The cluster data key is born with the cluster, on its first manager.
        saveDataKey(opts.dataDir, DataKey.generate());
        saveNodeTls(opts.dataDir, { keyPem: key.keyPem, certPem, caPem: ca.certPem });
        // The administrator's client bundle for the API over TLS (DOCKER_CERT_PATH).
        const admin = await issueAdminCertificate(ca, { name: 'admin', clusterId });
        writeAdminBundle(adminBundleDir(opts.dataDir), { caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem! });
        identity = {
          version: 1,
          nodeId,
          clusterId,
          role: 'manager',
          gossipKey: Keyring.generateKey(),
          advertiseAddr,
          ...apiAddr,
          hostname,
          managers: [{ nodeId, addr: advertiseAddr }],
          founder: true,
        };
      } else {
        const j = await joinCluster(opts.join!, { nodeId, hostname, clusterAddr: advertiseAddr, gossipAddr: advertiseAddr }, log);
        saveNodeTls(opts.dataDir, j.tls);
        if (j.response.dataKey) saveDataKey(opts.dataDir, DataKey.fromBase64(j.response.dataKey));
        identity = { version: 1, nodeId, clusterId: j.response.clusterId, role: j.response.role, gossipKey: j.response.gossipKey, advertiseAddr, ...apiAddr, hostname, managers: j.response.managers };
      }
      if (opts.runtime) identity.runtime = opts.runtime;
      if (opts.ociRuntime) identity.ociRuntime = opts.ociRuntime;
      saveIdentity(opts.dataDir, identity);
    } else if (opts.apiAddr && opts.apiAddr !== identity.apiAddr) {
      // `shoal run --api-addr` on an existing node: serve where asked from now on.
      identity.apiAddr = opts.apiAddr;
      saveIdentity(opts.dataDir, identity);
    }
    const tls = loadNodeTls(opts.dataDir);
    if (!tls) throw new DaemonError(`${tlsDir(opts.dataDir)} holds no node certificate: this data dir predates mutual TLS or was damaged; join the cluster again with an empty data dir`);
    const clusterId = identity.clusterId;
    const transport = new WsTransport({
      nodeId,
      tls: { key: tls.keyPem, cert: tls.certPem, ca: tls.caPem, allowAnonymous: true, nodeIdentity: true },
      // A manager refuses nodes its store no longer has (removed); `d` is the daemon once it exists.
      authorize: nodeAccessPolicy(
        () => clusterId,
        (id) => d?.isRemovedNode(id) ?? false,
      ),
      onHandlerError: (err, type) => log.error({ err, type }, `a ${type} handler failed (frame dropped)`),
    });
    hooks.transport?.(transport);
    await transport.listen({ host, port: Number(portStr) }).catch((err: Error) => {
      throw new DaemonError(`cannot listen on ${advertiseAddr}: ${err.message}`);
    });
    // Until the daemon owns them, a failure (a gossip socket in use) must
    // release what is open, or the process never exits.
    let gossip: GossipDriver | null = null;
    let d: Daemon | undefined;
    try {
      if ((opts.runtime && opts.runtime !== identity.runtime) || (opts.ociRuntime && opts.ociRuntime !== identity.ociRuntime)) {
        if (opts.runtime) identity.runtime = opts.runtime;
        if (opts.ociRuntime) identity.ociRuntime = opts.ociRuntime;
        saveIdentity(opts.dataDir, identity);
      }
      gossip = await GossipDriver.start({
        self: { id: nodeId, addr: advertiseAddr, clusterAddr: advertiseAddr, role: identity.role, meta: { resources: { nanoCpus: os.cpus().length * 1e9, memoryBytes: os.totalmem() }, labels: {} } },
        keyring: new Keyring(identity.gossipKeys ?? [identity.gossipKey]),
        transport,
        profile: opts.gossipProfile ?? 'lan',
        log: root,
        ...(hooks.gossipPacketFilter ? { packetFilter: hooks.gossipPacketFilter } : {}),
      });
      d = new Daemon(identity, transport, gossip, opts, hooks);
    } catch (err) {
      await gossip?.stop().catch(() => {});
      await transport.close().catch(() => {});
      throw err;
    }
    d.stopStallWatch = watchStalls(log);
    d.stopNodeLogs = serveNodeLogs(transport, opts.logReader ?? null);
    if (opts.metricsAddr) {
      try {
        d.metricsEndpoint = await serveMetrics(opts.metricsAddr, () => d.metrics.scrape(), root.child({ component: 'metrics' }));
      } catch (err) {
        await d.stop();
        throw new DaemonError(`cannot serve metrics on ${opts.metricsAddr}: ${(err as Error).message}`);
      }
    }
    d.scheduleRenewal(tls.certPem);
    raisePriority(log);
    if (identity.role === 'manager') await d.startManager();
    await d.startAgent();
    d.startSession();
    const seeds = identity.managers.map((m) => m.addr).filter((a) => a !== advertiseAddr);
    if (seeds.length > 0) gossip.join(seeds);
    await hooks.started?.({
      nodeId,
      role: d.identity.role,
      gossipMembers: () => gossip.members(),
      raftStatus: () => {
        const st = d.manager?.status();
        return st ? { isLeader: st.isLeader, leaderId: st.leaderId, ...st.raft } : null;
      },
      transferLeadership: async (to) => {
        if (!d.manager) throw new DaemonError('not a manager');
        await d.manager.driver.transferLeadership(to, 5_000);
      },
    });
    return d;
  }

  private async startManager(): Promise<void> {
    const id = this.identity;
    await this.hooks.beforeManager?.(this.opts.dataDir);
    const raftSync = this.hooks.raftSync;
    const dataKey = loadDataKey(this.opts.dataDir);
    if (!dataKey) this.log.warn(`no cluster data key in ${tlsDir(this.opts.dataDir)}: this manager cannot create or deliver secrets and configs`);
    this.manager = await Manager.start({
      nodeId: id.nodeId,
      dataDir: this.opts.dataDir,
      addr: id.advertiseAddr,
      transport: this.transport,
      peers: Object.fromEntries(id.managers.filter((m) => m.nodeId !== id.nodeId).map((m) => [m.nodeId, m.addr])),
      ...(id.founder ? { found: { clusterId: id.clusterId, hostname: id.hostname, gossipKey: id.gossipKey, ...founderCa(this.opts.dataDir) } } : {}),
      ...(this.opts.tickMs ? { tickMs: this.opts.tickMs } : {}),
      ...(this.opts.raft ? { raft: this.opts.raft } : {}),
      reconcile,
      ...(dataKey ? { dataKey } : {}),
      ...(raftSync ? { raftSync } : {}),
      ...(this.hooks.wallClock ? { timers: { ...systemTimers, wall: this.hooks.wallClock } } : {}),
      log: this.root,
      ...(this.opts.logReader ? { localLogs: this.opts.logReader } : {}),
      fenceHandoff: this.fenceHandoff,
    });
    // A removed node's connections end at once (new ones are refused: isRemovedNode).
    this.manager.store.watch((changes) => {
      for (const ch of changes) {
        if (ch.kind !== 'node' || ch.action !== 'delete') continue;
        for (const conn of this.transport.connections()) {
          if (conn.peer.authenticated && conn.peer.nodeId === ch.id) conn.close(`node ${ch.id} was removed from the cluster`);
        }
      }
    });
    // Remember the managers we learn of, to find the cluster after a restart.
    this.manager.store.watch(() => {
      // The founder's copy of the CA key goes once the store (every manager) holds it.
      if (id.founder && this.manager!.store.list('cluster')[0]?.ShoalCA) removeFounderCaKey(this.opts.dataDir);
      const peers = this.manager!.managerPeers();
      if (peers.length > 0 && JSON.stringify(peers) !== JSON.stringify(this.identity.managers)) {
        this.identity.managers = peers;
        saveIdentity(this.opts.dataDir, this.identity);
      }
    });
    const api = createApiServer(this.hooks.apiContext?.(this.manager) ?? this.manager, { version: packageVersion(), log: this.root, scrapeMetrics: () => this.metrics.scrape(), gossipMembers: () => this.gossip.members() });
    this.api = api;
    await serveApiSocket(api, this.apiSocket);
    if (id.apiAddr) await this.serveApiOverTls(api, id.apiAddr);
  }

  /**
   * The cluster CA this manager holds: what signs certificates now (the new
   * root in a rotation's later steps) and the roots to trust — the store's,
   * or the founder's file until the store has it.
   */
  private clusterCa(): { signer: { certPem: string; keyPem: string }; trust: string } | null {
    const c = this.manager?.store.list('cluster')[0];
    if (c?.ShoalCA) {
      const open = withOpenCa(c, this.manager!.dataKey());
      return { signer: nodeSigner(open), trust: pemBundle(trustedRoots(open)) };
    }
    const f = founderCa(this.opts.dataDir).ca;
    return f ? { signer: f, trust: f.certPem } : null;
  }

  /**
   * TCP with TLS and client certificates. A manager that joined serves it
   * once its store holds the CA (moments after it starts, when a leader is
   * reachable); until then only its unix socket answers.
   */
  private async serveApiOverTls(api: ApiServer, addr: string): Promise<void> {
    const log = this.log;
    const ctx = { api, addr, nodeId: this.identity.nodeId, clusterId: this.identity.clusterId, ca: () => this.clusterCa(), log: this.root.child({ component: 'api' }), dataDir: this.opts.dataDir };
    if (this.clusterCa()) {
      this.apiTls = await serveApiTls(ctx);
      return;
    }
    log.info(`the API on ${addr} starts once this manager's store holds the cluster CA`);
    const stopWatch = this.manager!.store.watch(() => {
      if (this.stopped || this.api !== api) return stopWatch();
      // Asked on every store change until then: look for the CA, do not open its key each time.
      if (this.apiTlsStarting || !this.manager?.store.list('cluster')[0]?.ShoalCA) return;
      this.apiTlsStarting = true;
      stopWatch();
      serveApiTls(ctx).then(
        (t) => {
          // Stopped (or demoted) meanwhile: the API server closed, and refused the late listener; end its renewals.
          if (this.api === api && !this.stopped) this.apiTls = t;
          else t.stop();
        },
        (err: Error) => {
          if (!this.stopped && this.api === api) log.error(err.message);
        },
      );
    });
  }

  /**
   * The runtimes that work here, the node's task supervisor they share (the
   * one already running after a daemon restart: its tasks run on, with the
   * same PIDs), and the agent that re-adopts what they run.
   */
  private async startAgent(): Promise<void> {
    const log = this.log;
    const runtimes = new Map<string, Runtime>();
    const base = runtimeOptions(this.identity, this.opts, this.root);
    // mount, umount, runc/crun calls and exec start from a small forker, not from this big process (capture.ts says why).
    useHelperForker(forkerAvailable(), (msg) => log.warn(`helper forker: ${msg}`));
    const sup = new SupervisorClient({
      dir: path.join(this.opts.dataDir, 'supervisor'),
      roots: (['process', 'oci'] as const).map((n) => tasksRoot(resolveCommon(n, base).stateDir)),
      rotation: resolveCommon('process', base).rotation,
      log: this.root,
    });
    this.supervisor = sup;
    const held = await sup.hello();
    log.info({ supervisorPid: held.pid, tasks: held.held.length }, `task supervisor ${held.pid} holds ${held.held.length} task(s)${held.tied ? '' : ' (setpriv missing: tasks are not tied to it)'}`);
    const { soleGraceMs } = await sup.configure(this.identity.nodeId, this.managerAddrs(), this.leaseTls());
    this.fenceConfigured(soleGraceMs > 0 ? monotonicMs() + soleGraceMs : 0);
    if (soleGraceMs > 0) log.info(`this node's manager, the cluster's only one, was away: its task supervisor held ${held.held.length} task(s) through the expired lease and waits ${soleGraceMs} ms for a grant`);
    // Registry blobs are shared inside the cluster: each has one owner node that reads it from the registry (image-peers.ts).
    const images = ImageStore.at(resolveCommon('oci', base).imageDir);
    this.imageStore = images;
    const imageLog = this.root.child({ component: 'images' });
    const blobSource = peerBlobSource({
      transport: this.transport,
      self: this.identity.nodeId,
      peers: () => this.alivePeers(),
      store: images,
      credentials: (registry) => nodeCredentials(registry),
      log: imageLog,
    });
    this.stopImageBlobs = serveImages(this.transport, images, (registry) => nodeCredentials(registry), imageLog);
    const peerImages = peerImageSource({ transport: this.transport, self: this.identity.nodeId, peers: () => this.alivePeers(), store: images, log: imageLog });
    const ro: RuntimeOptions = { ...base, supervisor: sup, oci: { ...base.oci, blobSource, peerImages } };
    for (const name of RUNTIME_NAMES) {
      const r = createRuntime(name, ro);
      const a = await r.available().catch((err: Error) => ({ ok: false, reason: err.message }));
      if (a.ok) {
        runtimes.set(name, r);
        this.runtimes.set(name, r);
      }
      else log.info({ runtime: name }, `runtime ${name} unavailable: ${a.reason ?? 'unknown reason'}`);
    }
    const def = this.identity.runtime ?? 'process';
    if (!runtimes.has(def)) throw new DaemonError(`the default runtime ${def} is not available on this node (available: ${[...runtimes.keys()].join(', ') || 'none'})`);
    this.networks = await this.startDataPlane();
    this.agent = await Agent.start({
      nodeId: this.identity.nodeId,
      dataDir: path.join(this.opts.dataDir, 'agent'),
      runtimes,
      defaultRuntime: def,
      // Before the session exists (re-adoption at start reports tasks that ended while the daemon was
      // down) reports wait here: a dropped one would leave the task 'running' in the store for good.
      report: (u) => (this.session ? this.session.report(u) : this.earlyReports.push(...u)),
      log: this.root,
      ...(this.networks ? { networks: this.networks } : {}),
    });
    const agent = this.agent;
    this.stopLogs = serveTaskLogs(this.transport, (id) => agent.findRuntime(id), this.root.child({ component: 'agent' }));
  }

  /** Tells the leader what the image store holds, when that changed (the scheduler prefers nodes with a task's image). */
  private reportImages(): void {
    if (!this.imageStore || !this.session) return;
    let names: string[];
    try {
      names = this.imageStore.list().map((i) => i.name).sort();
    } catch (err) {
      return this.log.warn(`listing the image store: ${(err as Error).message}`);
    }
    const key = names.join('\n');
    if (key === this.reportedImages) return;
    this.reportedImages = key;
    this.session.reportImages(names);
  }

  /** The other live nodes, as gossip sees them: where images and blobs are asked for. */
  private alivePeers(): BlobPeer[] {
    return this.gossip
      .members()
      .filter((m) => m.state === 'alive' && m.id !== this.identity.nodeId && m.clusterAddr)
      .map((m) => ({ nodeId: m.id, addr: m.clusterAddr }));
  }

  /**
   * The node's overlay data plane (overlay-net), when it can have one: root,
   * iproute2 and nftables, and an underlay — a node advertising a loopback
   * address shares its network namespace with the other nodes on this
   * machine (the loopback test layout), where their bridges and rules would
   * collide and VXLAN between them has nothing to cross. Without one, a task
   * that joins a network is rejected here, with the reason, and placed
   * elsewhere. Its kernel state outlives the daemon like the tasks do (live
   * restore): a restarted daemon re-applies over it.
   */
  private async startDataPlane(): Promise<TaskNetworks | null> {
    const log = this.log;
    const [host] = splitAddr(this.identity.advertiseAddr);
    const why = /^127\.|^::1$|^localhost$/.test(host) ? `it advertises the loopback address ${host}` : await linuxDataPlaneUnavailable();
    if (why) {
      log.warn(`no overlay data plane (${why}): tasks that join networks are not run here`);
      return null;
    }
    this.dataPlane = new LinuxDataPlane({ kernel: { recordPath: path.join(this.opts.dataDir, NETNS_RECORD_FILE) } });
    log.info(`overlay data plane on ${host}`);
    return new TaskNetworks(this.dataPlane, this.root.child({ component: 'overlay' }));
  }

  /**
   * Every node runs an agent session with the leader: it registers the node
   * (which makes it Ready), receives its assignments, and learns of changes
   * to its own Node object — a promotion or demotion starts or stops this
   * process's manager component.
   */
  private startSession(): void {
    const id = this.identity;
    const [host] = splitAddr(id.advertiseAddr);
    void host;
    this.session = new SessionClient({
      transport: this.transport,
      nodeId: id.nodeId,
      description: {
        hostname: id.hostname,
        os: process.platform,
        arch: os.arch() === 'x64' ? 'x86_64' : os.arch(),
        nanoCpus: os.cpus().length * 1e9,
        memoryBytes: os.totalmem(),
        labels: {},
        runtimes: this.agent?.runtimeNames() ?? [],
        engineVersion: packageVersion(),
        clusterAddr: id.advertiseAddr,
        gossipAddr: id.advertiseAddr,
      },
      managers: id.managers.map((m) => m.addr),
      // Failover beyond the managers we were told of: any manager gossip sees alive.
      discoverManagers: () => aliveManagerAddrs(this.gossip.members()),
      onConnected: (addr) => {
        this.log.info({ manager: addr }, `agent session with manager ${addr}`);
        this.configureFence();
      },
      onAssignments: (full, tasks, removed) => this.agent?.onAssignments(full, tasks, removed),
      onSecrets: (items) => this.agent?.onSecrets(items),
      onNode: (n) => this.onOwnNode(n),
      onGossipKeys: (keys) => this.applyGossipKeys(keys),
      gossipKeyId: () => gossipKeyId(this.gossip.keyring.keys()[0]!),
      onCaTrust: (roots, issuer) => {
        this.caTrusting = this.caTrusting.then(() => this.applyCaTrust(roots, issuer)).catch((err: Error) => this.log.warn(`following the cluster CA: ${err.message}`));
      },
      caReport: () => this.caReport(),
      onDenied: (ids) => this.onDenied(ids),
      // No data plane here: nothing to program, so nothing this node could still send to a stopping task.
      onNetPlan: (plan, applied) => (this.networks ? this.networks.onPlan(plan, applied) : applied()),
      log: this.root,
    });
    if (this.earlyReports.length > 0) this.session.report(this.earlyReports.splice(0));
    this.reportImages();
    // The store changes by pulls and fetches here, and by `shoal image import` from another process: look every 5 s (one readdir).
    this.imageWatch = setInterval(() => this.reportImages(), IMAGE_REPORT_MS);
    this.imageWatch.unref();
    this.session.start();
  }

  /** Managers the supervisor renews the node's lease with: the known ones and any gossip sees alive. */
  private managerAddrs(): string[] {
    const known = this.session?.knownManagers ?? this.identity.managers.map((m) => m.addr);
    return [...new Set([...known, ...aliveManagerAddrs(this.gossip.members())])];
  }

  /** The node's TLS identity for the supervisor's lease connections (re-read: a renewal replaces it). */
  private leaseTls(): { key: string; cert: string; ca: string } | undefined {
    const t = loadNodeTls(this.opts.dataDir);
    return t ? { key: t.keyPem, cert: t.certPem, ca: t.caPem } : undefined;
  }

  private configureFence(): void {
    const sup = this.supervisor;
    if (!sup || this.stopped) return;
    sup.configure(this.identity.nodeId, this.managerAddrs(), this.leaseTls()).catch((err: Error) => this.log.warn(`cannot update the fencing lease's managers: ${err.message}`));
  }

  private onOwnNode(n: Node): void {
    const role = n.Spec.Role;
    if (role === this.identity.role || this.stopped) return;
    this.roleChange = this.roleChange.then(async () => {
      if (role === this.identity.role || this.stopped) return;
      this.log.info(`role changed to ${role}`);
      // A certificate for the new role first: peers hold the node to the role its certificate names.
      await this.renewCertificate(`role changed to ${role}`, true).catch((err: Error) => this.log.warn(err.message));
      this.identity.role = role;
      this.identity.founder = false;
      saveIdentity(this.opts.dataDir, this.identity);
      if (role === 'manager' && !this.manager) await this.startManager();
      // Workers find managers in the gossip member list (session failover): announce the new role.
      this.announceRole(role);
      if (role === 'worker' && this.manager) {
        this.apiTls?.stop();
        this.apiTls = null;
        await this.api?.close();
        this.api = null;
        await this.manager.stop();
        this.manager = null;
      }
      if (role === 'worker') removeDataKey(this.opts.dataDir);
    });
  }

  /**
   * Whether `nodeId` was removed from the cluster, as far as this node can
   * tell: a manager's store is the deny list (a node it does not hold, once
   * it holds any); a worker holds no store and denies no one.
   */
  isRemovedNode(nodeId: string): boolean {
    if (nodeId === this.identity.nodeId) return false;
    // Every node: what the leader said was removed (a worker's only source).
    if (this.denied.has(nodeId)) return true;
    const store = this.manager?.store;
    if (!store) return false;
    // Asked for every inbound frame (the transport's authorizer): two map lookups, no listing.
    // A store that holds this node holds the cluster's nodes; before that (bootstrap) it denies no one.
    return store.get('node', nodeId) === undefined && store.get('node', this.identity.nodeId) !== undefined;
  }

  private renewTimer: NodeJS.Timeout | null = null;
  private denied = new Set<string>();

  /** The cluster's deny list, as the leader sends it: refuse those nodes, and end what they hold open. */
  private onDenied(ids: string[]): void {
    this.denied = new Set(ids);
    for (const conn of this.transport.connections()) {
      if (conn.peer.authenticated && this.denied.has(conn.peer.nodeId)) conn.close(`node ${conn.peer.nodeId} was removed from the cluster`);
    }
  }

  /** Renews the certificate at half its lifetime (SwarmKit's rule), retrying every minute until it works. */
  private scheduleRenewal(certPem: string): void {
    if (this.renewTimer) clearTimeout(this.renewTimer);
    const at = renewalAt(certPem);
    const arm = (ms: number) => {
      // setTimeout's limit is 2^31-1 ms (24.8 days): re-arm in steps for longer lifetimes.
      this.renewTimer = setTimeout(() => {
        if (this.stopped) return;
        if (Date.now() < at) return arm(at - Date.now());
        this.renewCertificate('half its lifetime passed', false).catch((err: Error) => {
          this.log.warn(`${err.message}; retrying in a minute`);
          arm(60_000);
        });
      }, Math.min(Math.max(0, ms), 2 ** 31 - 1));
      this.renewTimer.unref();
    };
    arm(at - Date.now());
  }

  /**
   * Asks the leader for a new certificate for a new key, over a connection
   * the current certificate authenticates. The role in it is the store's.
   * After a role change every connection is closed, so peers meet the node
   * again under its new certificate.
   */
  private async renewCertificate(why: string, roleChanged: boolean): Promise<void> {
    const id = this.identity;
    const key = await createNodeKey(id.nodeId);
    const r = await retry(
      async ({ leader, attempt }) => {
        const addrs = this.managerAddrs();
        const addr = leader?.addr ?? addrs[attempt % Math.max(1, addrs.length)] ?? id.advertiseAddr;
        const conn = await this.transport.connect(addr, { timeoutMs: 3_000 });
        try {
          return await conn.request(CertRenew, { csr: key.csrPem }, { timeoutMs: 10_000 });
        } finally {
          conn.close('certificate renewed');
        }
      },
      { what: `renewing node ${id.nodeId}'s certificate (${why})`, deadlineMs: 60_000, backoff: { initialMs: 200, maxMs: 2_000 }, stopped: () => this.stopped },
    );
    const tls = { keyPem: key.keyPem, certPem: r.certificate, caPem: r.caCertificate };
    this.setTls(tls);
    // A promotion: the data key comes with the manager certificate, before the manager component starts.
    if (r.dataKey && r.role === 'manager') saveDataKey(this.opts.dataDir, DataKey.fromBase64(r.dataKey));
    this.transport.updateTls({ key: tls.keyPem, cert: tls.certPem, ca: tls.caPem });
    this.log.info(`certificate renewed as a ${r.role} (${why})`);
    if (roleChanged) for (const c of this.transport.connections()) c.close('certificate renewed for a new role');
    this.configureFence();
    this.scheduleRenewal(tls.certPem);
  }

  private caTrusting: Promise<void> = Promise.resolve();
  private caReportCache: { of: string; report: { caTrustId?: string; certIssuerId?: string } } | null = null;

  /** What the heartbeats say about this node's trust and certificate (recomputed only when they change). */
  private caReport(): { caTrustId?: string; certIssuerId?: string } {
    const tls = this.tlsNow ?? loadNodeTls(this.opts.dataDir);
    if (!tls) return {};
    this.tlsNow = tls;
    const of = tls.certPem + tls.caPem;
    if (this.caReportCache?.of !== of) this.caReportCache = { of, report: caReportOf(tls.certPem, tls.caPem) };
    return this.caReportCache.report;
  }
  /** The node's TLS files as last written (saveNodeTls goes through setTls). */
  private tlsNow: NodeTls | null = null;

  private setTls(tls: NodeTls): void {
    saveNodeTls(this.opts.dataDir, tls);
    this.tlsNow = tls;
  }

  /**
   * A CA rotation's step, as the leader says it (manager/membership/ca-rotation.ts):
   * trust exactly `roots`, and hold a certificate of the root `issuer` names
   * (renewed over a new connection: the session stays). A manager's API
   * follows (its serving certificate, the roots it accepts), and so does the
   * admin bundle in its data dir, if it has one.
   */
  private async applyCaTrust(roots: string[], issuer: string): Promise<void> {
    if (this.stopped) return;
    const tls = this.tlsNow ?? loadNodeTls(this.opts.dataDir);
    if (!tls) return;
    const bundle = pemBundle(roots);
    if (tls.caPem !== bundle) {
      this.setTls({ ...tls, caPem: bundle });
      this.transport.updateTls({ key: tls.keyPem, cert: tls.certPem, ca: bundle });
      this.log.info(`now trusting ${roots.length} cluster root(s)`);
    }
    await this.apiTls?.refresh();
    await this.refreshAdminBundle(roots, issuer);
    if (issuerRootId(tls.certPem, roots) !== issuer) await this.renewCertificate('the cluster CA is rotating', false);
  }

  /** The admin bundle `shoal init` wrote here follows a CA rotation, so the local CLI keeps working. */
  private async refreshAdminBundle(roots: string[], issuer: string): Promise<void> {
    const dir = adminBundleDir(this.opts.dataDir);
    const ca = this.clusterCa();
    if (!ca || !existsSync(path.join(dir, 'cert.pem'))) return;
    const cert = readFileSync(path.join(dir, 'cert.pem'), 'utf8');
    const caPem = pemBundle(roots);
    const signedRight = issuerRootId(cert, roots) === issuer;
    if (signedRight && readFileSync(path.join(dir, 'ca.pem'), 'utf8') === caPem) return;
    if (!signedRight) {
      const admin = await (await x509()).issueAdminCertificate(ca.signer, { name: 'admin', clusterId: this.identity.clusterId });
      writeAdminBundle(dir, { caPem, certPem: admin.certPem, keyPem: admin.keyPem! });
    } else {
      writeAdminBundle(dir, { caPem, certPem: cert, keyPem: readFileSync(path.join(dir, 'key.pem'), 'utf8') });
    }
    this.log.info(`admin bundle in ${dir} follows the cluster CA`);
  }

  /**
   * The cluster's gossip keys as the leader holds them (a rotation): install
   * the new ones, send with the primary, forget what the ring no longer has,
   * and remember the ring for a restart.
   */
  private applyGossipKeys(keys: string[]): void {
    const ring = this.gossip.keyring;
    const same = JSON.stringify(ring.keys()) === JSON.stringify(keys);
    try {
      for (const k of keys) ring.install(k);
      ring.use(keys[0]!);
      for (const k of ring.keys()) if (!keys.includes(k)) ring.remove(k);
    } catch (err) {
      this.log.warn(`gossip keys refused: ${(err as Error).message}`);
      return;
    }
    if (same && JSON.stringify(this.identity.gossipKeys ?? [this.identity.gossipKey]) === JSON.stringify(keys)) return;
    this.identity.gossipKey = keys[0]!;
    this.identity.gossipKeys = keys;
    saveIdentity(this.opts.dataDir, this.identity);
    if (!same) this.log.info(`gossip keyring now ${keys.map((k) => gossipKeyId(k)).join(', ')} (primary first)`);
  }

  private announceRole(role: 'manager' | 'worker'): void {
    try {
      this.gossip.updateRole(role);
    } catch (err) {
      this.log.warn(`gossip: cannot announce role ${role}: ${(err as Error).message}`);
    }
  }

  /**
   * Stops the node. By default its tasks stop too (the supervisor kills
   * them and ends): what `shoal down` and Ctrl-C mean. `keepTasks` leaves
   * them running under the supervisor for a daemon that will be back soon
   * (an upgrade); a crashed daemon keeps them the same way.
   */
  async stop(opts: { keepTasks?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.hooks.stopping?.();
    this.session?.stop();
    this.stopLogs?.();
    this.stopNodeLogs?.();
    this.stopImageBlobs?.();
    if (this.imageWatch) clearInterval(this.imageWatch);
    this.stopStallWatch?.();
    await this.agent?.stop();
    if (this.supervisor) {
      if (!opts.keepTasks) {
        await this.supervisor.shutdown('the node is stopping').catch((err: Error) => this.log.warn(`supervisor shutdown: ${err.message}`));
        for (const r of this.runtimes.values()) await r.release?.().catch((err: Error) => this.log.warn(`releasing ${r.name}: ${err.message}`));
        await this.agent?.releaseSecrets().catch((err: Error) => this.log.warn(`releasing secret mounts: ${err.message}`));
        // The tasks are gone: so are their namespaces, links and rules.
        this.networks?.close();
        await this.dataPlane?.teardown().catch((err: Error) => this.log.warn(`overlay teardown: ${err.message}`));
      }
      await this.supervisor.close();
    }
    await this.roleChange.catch(() => {});
    this.apiTls?.stop();
    await this.api?.close();
    await this.metricsEndpoint?.close();
    await this.manager?.stop();
    await this.gossip.stop();
    await this.transport.close();
  }
}

/** Asks a manager to admit us, following NOT_LEADER redirects to the leader. */
/**
 * Joins through `join.addr`, as SwarmKit does: fetch the cluster's CA
 * certificate (no certificate needed for that), check its digest against
 * the token's first part — so the token goes only to a manager of the
 * cluster it was made for — then, over TLS verified by that CA, send the
 * token with a CSR for a key made here and get the node certificate back.
 * Follows NOT_LEADER redirects to the leader.
 */
async function joinCluster(
  join: { token: string; addr: string },
  me: { nodeId: string; hostname: string; clusterAddr: string; gossipAddr: string },
  log: Logger,
): Promise<{ response: JoinResponse; tls: NodeTls }> {
  let digest: string;
  try {
    digest = parseToken(join.token).digest;
  } catch (err) {
    throw new DaemonError((err as Error).message);
  }
  const key = await createNodeKey(me.nodeId);
  // Dial-only and anonymous: this node has no certificate yet.
  const probe = new WsTransport({ nodeId: me.nodeId, tls: {}, connection: { handshakeTimeoutMs: 3_000 } });
  try {
    const caPem = await retry(
      async () => {
        const conn = await probe.connect(join.addr, { timeoutMs: 3_000 });
        try {
          return (await conn.request(CaCertificate, {}, { timeoutMs: 10_000 })).caCertificate;
        } finally {
          conn.close('got the CA');
        }
      },
      { what: `fetching the cluster CA from ${join.addr}`, deadlineMs: 30_000, backoff: { initialMs: 100, maxMs: 1_000 }, onRetry: (err) => log.warn(`join: ${(err as Error).message}; retrying`) },
    );
    if (certDigest(caPem) !== digest) {
      throw new DaemonError(`the join token is for a different cluster than the node at ${join.addr} (its CA certificate does not match the token): check the address and the token`);
    }
    probe.updateTls({ ca: caPem, nodeIdentity: true });
    const response = await retry(
      async ({ leader }) => {
        // A follower answers NOT_LEADER with the leader's address as data: the next attempt goes there.
        const conn = await probe.connect(leader?.addr ?? join.addr, { timeoutMs: 3_000 });
        try {
          if (conn.peer.role !== 'manager') throw new DaemonError(`${conn.peer.nodeId} at ${leader?.addr ?? join.addr} is not a manager: join through a manager's address`);
          return await conn.request(Join, { token: join.token, ...me, csr: key.csrPem }, { timeoutMs: 60_000 });
        } finally {
          conn.close('joined');
        }
      },
      { what: `joining through ${join.addr}`, deadlineMs: 30_000, backoff: { initialMs: 100, maxMs: 1_000 }, onRetry: (err) => log.warn(`join failed: ${(err as Error).message}; retrying`) },
    );
    if (!response.certificate || !response.caCertificate) throw new DaemonError(`the manager at ${join.addr} signed no certificate for this node`);
    if (certDigest(response.caCertificate) !== digest) throw new DaemonError('the manager answered with another CA than the token\'s');
    return { response, tls: { keyPem: key.keyPem, certPem: response.certificate, caPem: response.caCertificate } };
  } catch (err) {
    // A bad token (or any refusal that retrying cannot fix) is the user's to fix: say it plainly.
    if (err instanceof WireError && err.remote) throw new DaemonError(err.remote.message);
    if (err instanceof RetryExhaustedError) throw new DaemonError(`could not join through ${join.addr}: ${(err.last as Error)?.message ?? err.message}`);
    throw err;
  } finally {
    await probe.close().catch(() => {});
  }
}

/**
 * As root, the node process runs at nice -5 (the task supervisor at -10;
 * tasks at 0): tasks that saturate the CPUs must not starve the process that
 * answers its peers, or a busy cluster would look like a dead one.
 */
function raisePriority(log: Logger): void {
  if (process.getuid?.() !== 0) return;
  try {
    if (os.getPriority() > -5) os.setPriority(-5);
  } catch (err) {
    log.warn(`cannot raise the node's priority: ${(err as Error).message}`);
  }
}

/** The founder's CA, from disk, while its key is not yet in the store. */
function founderCa(dataDir: string): { ca?: { certPem: string; keyPem: string } } {
  const keyPem = loadFounderCaKey(dataDir);
  const tls = loadNodeTls(dataDir);
  return keyPem && tls ? { ca: { certPem: tls.caPem, keyPem } } : {};
}

function splitAddr(a: string): [string, string] {
  const i = a.lastIndexOf(':');
  if (i <= 0) throw new DaemonError(`bad address ${JSON.stringify(a)}: expected host:port`);
  return [a.slice(0, i), a.slice(i + 1)];
}
