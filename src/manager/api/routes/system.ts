/**
 * /_ping, /version, /info: what the docker CLI asks before anything else.
 * The ping's `Swarm` header decides whether the CLI offers swarm commands
 * ("active/manager" unlocks node/service), and /info's Swarm section is how
 * `docker node ls` marks the current node and `docker swarm join-token`
 * prints the address to join.
 */
import os from 'node:os';
import type { Store } from '../../store/store.js';
import type { Deps } from '../options.js';
import { API_VERSION, MIN_API_VERSION } from '../options.js';
import type { ApiResponse, Router } from '../router.js';
import { clusterShape } from '../shapes.js';

const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };

/** The swarm state as dockerd's ping reports it. Read locally: a ping must answer even without quorum. */
export function swarmHeader(store: Store): string {
  return store.count('cluster') > 0 ? 'active/manager' : 'inactive';
}

/** Host part of host:port (IPv6 in brackets or bare). */
export function hostOf(addr: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(addr);
  if (m) return m[1]!;
  const i = addr.lastIndexOf(':');
  return i > 0 && addr.indexOf(':') === i ? addr.slice(0, i) : addr;
}

export function systemRoutes(r: Router, d: Deps): void {
  r.add(['GET', 'HEAD'], '/_ping', (): ApiResponse => ({
    text: 'OK',
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      Swarm: swarmHeader(d.ctx.store),
      'Cache-Control': 'no-cache, no-store, must-revalidate',
      Pragma: 'no-cache',
    },
  }));

  r.add('GET', '/version', () => ({ body: versionBody(d) }));

  r.add('GET', '/info', async () => {
    // Answer even without quorum (as dockerd does), saying so in Swarm.Error.
    let error = '';
    try {
      await d.ctx.readBarrier();
    } catch (err) {
      error = `the managers have no quorum: this information may be stale (${(err as Error).message})`;
    }
    return { body: infoBody(d, error) };
  });
}

function versionBody(d: Deps): Record<string, unknown> {
  const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Arch: GO_ARCH[process.arch] ?? process.arch, Os: process.platform };
  return {
    Platform: { Name: 'Shoal' },
    Components: [{ Name: 'Engine', Version: d.version, Details: { ...details, KernelVersion: os.release(), Experimental: 'false', Node: process.version } }],
    Version: d.version,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: '',
    GoVersion: `node ${process.version}`,
    Os: process.platform,
    Arch: GO_ARCH[process.arch] ?? process.arch,
    KernelVersion: os.release(),
    BuildTime: '',
  };
}

function infoBody(d: Deps, error: string): Record<string, unknown> {
  const { ctx } = d;
  const st = ctx.status();
  const store = ctx.store;
  const cluster = store.list('cluster')[0];
  const nodes = store.list('node');
  const self = store.get('node', st.nodeId);
  let swarm: Record<string, unknown>;
  if (cluster) {
    const { JoinTokens: _tokens, ...info } = clusterShape(cluster);
    swarm = {
      NodeID: st.nodeId,
      NodeAddr: hostOf(st.addr),
      LocalNodeState: 'active',
      ControlAvailable: true,
      Error: error,
      RemoteManagers: st.managers.map((m) => ({ NodeID: m.nodeId, Addr: m.addr })),
      Nodes: nodes.length,
      Managers: nodes.filter((n) => n.Spec.Role === 'manager').length,
      Cluster: info,
    };
  } else {
    swarm = { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: error, RemoteManagers: null };
  }
  const arch = GO_ARCH[process.arch] ?? process.arch;
  return {
    ID: st.nodeId,
    Containers: 0,
    ContainersRunning: 0,
    ContainersPaused: 0,
    ContainersStopped: 0,
    Images: 0,
    Driver: 'shoal',
    DriverStatus: [],
    Plugins: { Volume: [], Network: ['overlay'], Authorization: null, Log: [] },
    MemoryLimit: true,
    SwapLimit: false,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    OomKillDisable: false,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'json-file',
    CgroupDriver: 'cgroupfs',
    CgroupVersion: '1',
    NEventsListener: 0,
    KernelVersion: os.release(),
    OperatingSystem: `Shoal ${d.version}`,
    OSVersion: '',
    OSType: 'linux',
    Architecture: os.machine?.() ?? arch,
    IndexServerAddress: 'https://index.docker.io/v1/',
    NCPU: os.availableParallelism?.() ?? os.cpus().length,
    MemTotal: os.totalmem(),
    GenericResources: null,
    DockerRootDir: '',
    HttpProxy: '',
    HttpsProxy: '',
    NoProxy: '',
    Name: self?.Description?.Hostname || os.hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: d.version,
    Runtimes: { process: { path: 'shoal' } },
    DefaultRuntime: 'process',
    Swarm: swarm,
    LiveRestoreEnabled: false,
    Isolation: '',
    InitBinary: '',
    ContainerdCommit: { ID: '' },
    RuncCommit: { ID: '' },
    InitCommit: { ID: '' },
    SecurityOptions: [],
    Warnings: [],
  };
}
