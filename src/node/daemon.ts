import { retry, RetryExhaustedError } from '../util/retry.js';
import { systemTimers } from '../util/timers.js';
import os from 'node:os';
import path from 'node:path';
import { GossipDriver } from '../gossip/driver.js';
import { Keyring } from '../gossip/keyring.js';
import { Manager } from '../manager/manager.js';
import { Join, type JoinResponse } from '../protocol/membership.js';
import { newObjectId } from '../manager/membership/tokens.js';
import { WireError } from '../wire/errors.js';
import { WsTransport } from '../wire/ws-transport.js';
import { loadIdentity, saveIdentity, type NodeIdentity } from './state.js';
import { SessionClient } from '../worker/agent/session.js';
import { Agent } from '../worker/agent/agent.js';
import { serveTaskLogs } from '../worker/agent/logs.js';
import { createRuntime, RUNTIME_NAMES, type Runtime, type RuntimeOptions } from '../worker/runtime/index.js';
import { SupervisorClient } from '../worker/supervisor/client.js';
import { resolveCommon } from '../worker/runtime/options.js';
import { tasksRoot } from '../worker/runtime/common/task-dir.js';
import type { Node } from '../model/index.js';
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

export { DaemonError } from './errors.js';
export type { DaemonOptions } from './options.js';



import { OCI_RUNTIME_NAMES, type OciRuntimeName } from '../model/runtime-names.js';
export { OCI_RUNTIME_NAMES, type OciRuntimeName };

/** How this node's runtimes are configured: from the daemon options and the saved identity (`--oci-runtime` is remembered there). */
export function runtimeOptions(identity: Pick<NodeIdentity, 'ociRuntime'>, opts: Pick<DaemonOptions, 'dataDir' | 'dockerSocket'>, log: (msg: string) => void): RuntimeOptions {
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
  session: SessionClient | null = null;
  agent: Agent | null = null;
  /** The node's task supervisor: the parent of every process and oci task, and the keeper of the fencing lease. */
  supervisor: SupervisorClient | null = null;
  private readonly runtimes = new Map<string, Runtime>();
  private stopLogs: (() => void) | null = null;
  private stopStallWatch: (() => void) | null = null;
  private stopped = false;
  private roleChange: Promise<void> = Promise.resolve();

  private constructor(
    readonly identity: NodeIdentity,
    readonly transport: WsTransport,
    readonly gossip: GossipDriver,
    private readonly opts: DaemonOptions,
    /** What a test composition root put between the parts (hooks.ts); {} in the product. */
    private readonly hooks: DaemonHooks,
  ) {}

  static async start(opts: DaemonOptions): Promise<Daemon> {
    const log = opts.log ?? (() => {});
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
    const transport = new WsTransport({ nodeId });
    const hooks = opts.hooks?.(nodeId, opts.dataDir, log) ?? {};
    hooks.transport?.(transport);
    await transport.listen({ host, port: Number(portStr) }).catch((err: Error) => {
      throw new DaemonError(`cannot listen on ${advertiseAddr}: ${err.message}`);
    });
    // Until the daemon owns them, a failure (a refused join token, a gossip
    // socket in use) must release what is open, or the process never exits.
    let gossip: GossipDriver | null = null;
    let d: Daemon;
    try {
      if (!identity) {
        const hostname = opts.hostname ?? os.hostname();
        const apiAddr = opts.apiAddr ?? `${host}:2375`;
        if (opts.init) {
          identity = {
            version: 1,
            nodeId,
            clusterId: newObjectId(),
            role: 'manager',
            gossipKey: Keyring.generateKey(),
            advertiseAddr,
            apiAddr,
            hostname,
            managers: [{ nodeId, addr: advertiseAddr }],
            founder: true,
          };
        } else {
          const j = await joinCluster(transport, opts.join!, { nodeId, hostname, clusterAddr: advertiseAddr, gossipAddr: advertiseAddr }, log);
          identity = { version: 1, nodeId, clusterId: j.clusterId, role: j.role, gossipKey: j.gossipKey, advertiseAddr, apiAddr, hostname, managers: j.managers };
        }
        if (opts.runtime) identity.runtime = opts.runtime;
        if (opts.ociRuntime) identity.ociRuntime = opts.ociRuntime;
        saveIdentity(opts.dataDir, identity);
      } else if ((opts.runtime && opts.runtime !== identity.runtime) || (opts.ociRuntime && opts.ociRuntime !== identity.ociRuntime)) {
        if (opts.runtime) identity.runtime = opts.runtime;
        if (opts.ociRuntime) identity.ociRuntime = opts.ociRuntime;
        saveIdentity(opts.dataDir, identity);
      }
      gossip = await GossipDriver.start({
        self: { id: nodeId, addr: advertiseAddr, clusterAddr: advertiseAddr, role: identity.role, meta: { resources: { nanoCpus: os.cpus().length * 1e9, memoryBytes: os.totalmem() }, labels: {} } },
        keyring: new Keyring([identity.gossipKey]),
        transport,
        profile: opts.gossipProfile ?? 'lan',
        log,
        ...(hooks.gossipPacketFilter ? { packetFilter: hooks.gossipPacketFilter } : {}),
      });
      d = new Daemon(identity, transport, gossip, opts, hooks);
    } catch (err) {
      await gossip?.stop().catch(() => {});
      await transport.close().catch(() => {});
      throw err;
    }
    d.stopStallWatch = watchStalls((m) => log(`node ${nodeId}: ${m}`));
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
    const log = this.opts.log ?? (() => {});
    await this.hooks.beforeManager?.(this.opts.dataDir);
    const raftSync = this.hooks.raftSync;
    this.manager = await Manager.start({
      nodeId: id.nodeId,
      dataDir: this.opts.dataDir,
      addr: id.advertiseAddr,
      transport: this.transport,
      peers: Object.fromEntries(id.managers.filter((m) => m.nodeId !== id.nodeId).map((m) => [m.nodeId, m.addr])),
      ...(id.founder ? { found: { clusterId: id.clusterId, hostname: id.hostname, gossipKey: id.gossipKey } } : {}),
      ...(this.opts.tickMs ? { tickMs: this.opts.tickMs } : {}),
      ...(this.opts.raft ? { raft: this.opts.raft } : {}),
      reconcile,
      ...(raftSync ? { raftSync } : {}),
      ...(this.hooks.wallClock ? { timers: { ...systemTimers, wall: this.hooks.wallClock } } : {}),
      log,
    });
    // Remember the managers we learn of, to find the cluster after a restart.
    this.manager.store.watch(() => {
      const peers = this.manager!.managerPeers();
      if (peers.length > 0 && JSON.stringify(peers) !== JSON.stringify(this.identity.managers)) {
        this.identity.managers = peers;
        saveIdentity(this.opts.dataDir, this.identity);
      }
    });
    this.api = createApiServer(this.hooks.apiContext?.(this.manager) ?? this.manager, { version: packageVersion(), log });
    const [apiHost, apiPort] = splitAddr(id.apiAddr);
    await this.api.listen(apiHost, Number(apiPort)).catch((err: Error) => {
      throw new DaemonError(`cannot serve the API on ${id.apiAddr}: ${err.message}`);
    });
  }

  /**
   * The runtimes that work here, the node's task supervisor they share (the
   * one already running after a daemon restart: its tasks run on, with the
   * same PIDs), and the agent that re-adopts what they run.
   */
  private async startAgent(): Promise<void> {
    const log = this.opts.log ?? (() => {});
    const runtimes = new Map<string, Runtime>();
    const base = runtimeOptions(this.identity, this.opts, log);
    const sup = new SupervisorClient({
      dir: path.join(this.opts.dataDir, 'supervisor'),
      roots: (['process', 'oci'] as const).map((n) => tasksRoot(resolveCommon(n, base).stateDir)),
      rotation: resolveCommon('process', base).rotation,
      log,
    });
    this.supervisor = sup;
    const held = await sup.hello();
    log(`node ${this.identity.nodeId}: task supervisor ${held.pid} holds ${held.held.length} task(s)${held.tied ? '' : ' (setpriv missing: tasks are not tied to it)'}`);
    await sup.configure(this.identity.nodeId, this.managerAddrs());
    const ro: RuntimeOptions = { ...base, supervisor: sup };
    for (const name of RUNTIME_NAMES) {
      const r = createRuntime(name, ro);
      const a = await r.available().catch((err: Error) => ({ ok: false, reason: err.message }));
      if (a.ok) {
        runtimes.set(name, r);
        this.runtimes.set(name, r);
      }
      else log(`runtime ${name} unavailable: ${a.reason ?? 'unknown reason'}`);
    }
    const def = this.identity.runtime ?? 'process';
    if (!runtimes.has(def)) throw new DaemonError(`the default runtime ${def} is not available on this node (available: ${[...runtimes.keys()].join(', ') || 'none'})`);
    this.agent = await Agent.start({
      nodeId: this.identity.nodeId,
      dataDir: path.join(this.opts.dataDir, 'agent'),
      runtimes,
      defaultRuntime: def,
      report: (u) => this.session?.report(u),
      log,
    });
    const agent = this.agent;
    this.stopLogs = serveTaskLogs(this.transport, (id) => agent.findRuntime(id), log);
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
        this.opts.log?.(`node ${id.nodeId}: agent session with manager ${addr}`);
        this.configureFence();
      },
      onAssignments: (full, tasks, removed) => this.agent?.onAssignments(full, tasks, removed),
      onNode: (n) => this.onOwnNode(n),
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
    this.session.start();
  }

  /** Managers the supervisor renews the node's lease with: the known ones and any gossip sees alive. */
  private managerAddrs(): string[] {
    const known = this.session?.knownManagers ?? this.identity.managers.map((m) => m.addr);
    return [...new Set([...known, ...aliveManagerAddrs(this.gossip.members())])];
  }

  private configureFence(): void {
    const sup = this.supervisor;
    if (!sup || this.stopped) return;
    sup.configure(this.identity.nodeId, this.managerAddrs()).catch((err: Error) => this.opts.log?.(`node ${this.identity.nodeId}: cannot update the fencing lease's managers: ${err.message}`));
  }

  private onOwnNode(n: Node): void {
    const role = n.Spec.Role;
    if (role === this.identity.role || this.stopped) return;
    this.roleChange = this.roleChange.then(async () => {
      if (role === this.identity.role || this.stopped) return;
      this.opts.log?.(`node ${this.identity.nodeId}: role changed to ${role}`);
      this.identity.role = role;
      this.identity.founder = false;
      saveIdentity(this.opts.dataDir, this.identity);
      if (role === 'manager' && !this.manager) await this.startManager();
      // Workers find managers in the gossip member list (session failover): announce the new role.
      this.announceRole(role);
      if (role === 'worker' && this.manager) {
        await this.api?.close();
        this.api = null;
        await this.manager.stop();
        this.manager = null;
      }
    });
  }

  private announceRole(role: 'manager' | 'worker'): void {
    try {
      this.gossip.updateRole(role);
    } catch (err) {
      this.opts.log?.(`gossip: cannot announce role ${role}: ${(err as Error).message}`);
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
    this.hooks.stopping?.();
    this.session?.stop();
    this.stopLogs?.();
    this.stopStallWatch?.();
    await this.agent?.stop();
    if (this.supervisor) {
      if (!opts.keepTasks) {
        await this.supervisor.shutdown('the node is stopping').catch((err: Error) => this.opts.log?.(`supervisor shutdown: ${err.message}`));
        for (const r of this.runtimes.values()) await r.release?.().catch((err: Error) => this.opts.log?.(`releasing ${r.name}: ${err.message}`));
      }
      await this.supervisor.close();
    }
    await this.roleChange.catch(() => {});
    await this.api?.close();
    await this.manager?.stop();
    await this.gossip.stop();
    await this.transport.close();
  }
}

/** Asks a manager to admit us, following NOT_LEADER redirects to the leader. */
async function joinCluster(
  transport: WsTransport,
  join: { token: string; addr: string },
  me: { nodeId: string; hostname: string; clusterAddr: string; gossipAddr: string },
  log: (m: string) => void,
): Promise<JoinResponse> {
  try {
    return await retry(
      async ({ leader }) => {
        // A follower answers NOT_LEADER with the leader's address as data: the next attempt goes there.
        const conn = await transport.connect(leader?.addr ?? join.addr, { timeoutMs: 3_000 });
        try {
          return await conn.request(Join, { token: join.token, ...me }, { timeoutMs: 60_000 });
        } finally {
          conn.close('joined');
        }
      },
      { what: `joining through ${join.addr}`, deadlineMs: 30_000, backoff: { initialMs: 100, maxMs: 1_000 }, onRetry: (err) => log(`join failed: ${(err as Error).message}; retrying`) },
    );
  } catch (err) {
    // A bad token (or any refusal that retrying cannot fix) is the user's to fix: say it plainly.
    if (err instanceof WireError && err.remote) throw new DaemonError(err.remote.message);
    if (err instanceof RetryExhaustedError) throw new DaemonError(`could not join through ${join.addr}: ${(err.last as Error)?.message ?? err.message}`);
    throw err;
  }
}

/**
 * As root, the node process runs at nice -5 (the task supervisor at -10;
 * tasks at 0): tasks that saturate the CPUs must not starve the process that
 * answers its peers, or a busy cluster would look like a dead one.
 */
function raisePriority(log: (m: string) => void): void {
  if (process.getuid?.() !== 0) return;
  try {
    if (os.getPriority() > -5) os.setPriority(-5);
  } catch (err) {
    log(`cannot raise the node's priority: ${(err as Error).message}`);
  }
}

function splitAddr(a: string): [string, string] {
  const i = a.lastIndexOf(':');
  if (i <= 0) throw new DaemonError(`bad address ${JSON.stringify(a)}: expected host:port`);
  return [a.slice(0, i), a.slice(i + 1)];
}
