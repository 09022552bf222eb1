/**
 * `buildNodePlan`: what one node must program, as a pure function of the
 * store's objects (no I/O, no clock), so every node derives its plan from the
 * state it was sent and a test can check a plan from objects alone.
 *
 * Rules (the brief's, and why):
 * - A node serves a network when it runs a task on it (state assigned..running,
 *   whatever its desired state: a task told to stop drains its connections
 *   over its namespace until it has stopped), and serves `ingress` whenever any service
 *   publishes a port in ingress mode: every node then answers on it.
 * - Local tasks are those same tasks, each with a namespace `shoal-<12 chars
 *   of the task ID>` and, per network it serves, its address and Docker's MAC.
 *   A task on no network is not one: it runs in its node's namespace (the
 *   runtimes join a namespace only for a task that asked for a network), so a
 *   namespace made for it would be two wasted `ip` operations per task and a
 *   plan that changes with every task started or stopped.
 * - Remotes are what VXLAN must reach on those networks: other nodes' tasks
 *   (assigned..running, whatever their desired state: a task draining still
 *   answers), and other nodes' own addresses (replies to traffic a node
 *   forwarded go back to its address), each with the node's underlay address.
 * - Services are those with a VIP on a served network, or publishing ports
 *   while ingress is served; backends are their `running` tasks' addresses on
 *   the served networks, and only while the desired state is still running:
 *   the decision to stop a task takes it out of every load balancer before
 *   its node sends the signal. SCTP ports are left out (the plan's ports are TCP
 *   and UDP; the mesh does not forward SCTP).
 * - A process-runtime task has no namespace and no overlay address of its
 *   own: its node serves its networks (so the task reaches their VIPs and
 *   resolver), and while running it is a backend at its node's underlay
 *   address with its host ports (PlanBackend.hostPorts); one without host
 *   ports (its service declares none) is no backend.
 * - Addresses in the plan carry no prefix length (the network's subnet has it).
 */
import { stateRank, taskRuntimeOn, type Network, type Node, type Service, type Task } from '../model/index.js';
import { addrOf, formatIPv4 } from './ipam/cidr.js';
import type { NodePlan, PlanBackend, PlanHostPort, PlanNetwork, PlanPort, PlanRemoteEndpoint, PlanService, PlanTask } from './interface.js';

export interface PlanObjects {
  nodes: readonly Node[];
  networks: readonly Network[];
  services: readonly Service[];
  tasks: readonly Task[];
}

export const PREFER_LOCAL_LABEL = 'com.shoal.mesh.prefer-local';

/** Docker's MAC for an IPv4 address: 02:42 then the address's four bytes. */
export function macOf(ip: string): string {
  const n = addrOf(ip);
  return ['02', '42', ...[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The task's network namespace name under /run/netns. */
export function netnsOf(taskId: string): string {
  return `shoal-${taskId.slice(0, 12)}`;
}

const ASSIGNED = stateRank('assigned');
const RUNNING = stateRank('running');

/** Placed and not yet ended: the task has (or is about to have) its namespace. */
function placedLive(t: Task): boolean {
  const r = stateRank(t.Status.State);
  return t.NodeID !== '' && r >= ASSIGNED && r <= RUNNING;
}

/**
 * A process-runtime task runs in its node's own network namespace (Nomad's
 * model), so its overlay address is never programmed (no namespace, no VXLAN
 * entry). It is a backend at its node's underlay address and the host ports
 * the store gave it (Status.PortStatus); its node serves its networks (bridge,
 * gateway, resolver, VIPs) so the task can use them from the node's own stack.
 * The runtime is the task's own choice, else its node's default (the first of
 * Node.Description.Runtimes).
 */
function ownNamespace(t: Task, nodes: ReadonlyMap<string, Node>): boolean {
  return taskRuntimeOn(t.Spec.Runtime, nodes.get(t.NodeID)?.Description.Runtimes) !== 'process';
}

/** On at least one network: the tasks that get a namespace of their own, and whose start the agent holds until the plan has made it (task-controller.ts). */
export function onNetwork(t: Pick<Task, 'NetworksAttachments'>): boolean {
  return (t.NetworksAttachments?.length ?? 0) > 0;
}

/** A process task's host ports, TCP and UDP only (the mesh does not forward SCTP). */
function hostPortsOf(t: Task): PlanHostPort[] {
  const out: PlanHostPort[] = [];
  for (const p of t.Status.PortStatus?.Ports ?? []) {
    const protocol = p.Protocol ?? 'tcp';
    if (p.PublishMode !== 'host' || !p.PublishedPort || protocol === 'sctp') continue;
    out.push({ protocol, targetPort: p.TargetPort, port: p.PublishedPort });
  }
  return out.sort((a, b) => a.targetPort - b.targetPort || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}

const plain = (cidr: string) => formatIPv4(addrOf(cidr));
const byKey = <T>(key: (x: T) => string) => (a: T, b: T) => {
  const ka = key(a);
  const kb = key(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
};

export function buildNodePlan(nodeId: string, objects: PlanObjects): NodePlan {
  const node = objects.nodes.find((n) => n.ID === nodeId);
  const empty: NodePlan = { nodeId, underlayAddr: node?.Status.Addr ?? '', networks: [], tasks: [], remotes: [], services: [] };
  if (!node) return empty;
  const netById = new Map(objects.networks.filter((n) => n.ShoalOverlay).map((n) => [n.ID, n]));
  const svcById = new Map(objects.services.map((s) => [s.ID, s]));
  // A service names its networks by ID or by name (as `docker service create --network` does).
  const netByRef = (ref: string) => netById.get(ref) ?? [...netById.values()].find((n) => n.Spec.Name === ref);

  // Which networks this node serves.
  // A task told to stop keeps its namespace until it has stopped: its open connections drain over it.
  const nodesById = new Map(objects.nodes.map((n) => [n.ID, n]));
  const local = objects.tasks.filter((t) => t.NodeID === nodeId && placedLive(t) && ownNamespace(t, nodesById) && onNetwork(t));
  const served = new Set<string>();
  for (const t of local) for (const a of t.NetworksAttachments ?? []) if (netById.has(a.Network.ID)) served.add(a.Network.ID);
  // A process task's networks too: it reaches their VIPs and resolver through the node's own stack.
  for (const t of objects.tasks) {
    if (t.NodeID !== nodeId || !placedLive(t) || ownNamespace(t, nodesById)) continue;
    for (const a of t.NetworksAttachments ?? []) if (netById.has(a.Network.ID)) served.add(a.Network.ID);
  }
  const ingress = objects.networks.find((n) => n.Spec.Ingress && n.ShoalOverlay);
  const meshInUse = objects.services.some((s) => (s.Endpoint?.Ports ?? []).some((p) => (p.PublishMode ?? 'ingress') === 'ingress'));
  if (ingress && meshInUse) served.add(ingress.ID);

  const networks: PlanNetwork[] = [...served].map((id) => {
    const n = netById.get(id)!;
    const o = n.ShoalOverlay!;
    return {
      id,
      name: n.Spec.Name,
      vni: o.VNI,
      subnet: o.Subnet,
      gateway: o.Gateway,
      nodeAddr: node.ShoalAttachments?.find((a) => a.NetworkID === id)?.Addr ?? '',
      internal: n.Spec.Internal ?? false,
      ingress: n.Spec.Ingress ?? false,
    };
  });

  const tasks: PlanTask[] = local.map((t) => ({
    taskId: t.ID,
    netns: netnsOf(t.ID),
    ...(taskRuntimeOn(t.Spec.Runtime, nodesById.get(t.NodeID)?.Description.Runtimes) === 'docker' ? { runtimeNetns: true } : {}),
    serviceName: svcById.get(t.ServiceID)?.Spec.Name ?? '',
    attachments: (t.NetworksAttachments ?? [])
      .filter((a) => served.has(a.Network.ID) && a.Addresses[0])
      .map((a) => {
        const addr = plain(a.Addresses[0]!);
        return { networkId: a.Network.ID, addr, mac: macOf(addr), aliases: a.Aliases ?? [] };
      }),
  }));

  const underlay = new Map(objects.nodes.map((n) => [n.ID, n.Status.Addr]));
  const remotes: PlanRemoteEndpoint[] = [];
  for (const t of objects.tasks) {
    if (t.NodeID === nodeId || !placedLive(t) || !ownNamespace(t, nodesById)) continue;
    const u = underlay.get(t.NodeID);
    if (!u) continue;
    for (const a of t.NetworksAttachments ?? []) {
      if (!served.has(a.Network.ID) || !a.Addresses[0]) continue;
      const addr = plain(a.Addresses[0]);
      remotes.push({ networkId: a.Network.ID, addr, mac: macOf(addr), nodeUnderlay: u });
    }
  }
  for (const n of objects.nodes) {
    if (n.ID === nodeId || !n.Status.Addr) continue;
    for (const a of n.ShoalAttachments ?? []) if (served.has(a.NetworkID)) remotes.push({ networkId: a.NetworkID, addr: a.Addr, mac: macOf(a.Addr), nodeUnderlay: n.Status.Addr });
  }

  const running = new Map<string, Task[]>();
  for (const t of objects.tasks) {
    // Out of every load balancer as soon as the managers decide it stops, before its node sends SIGTERM.
    if (t.Status.State !== 'running' || t.DesiredState !== 'running' || !t.NodeID) continue;
    let l = running.get(t.ServiceID);
    if (!l) running.set(t.ServiceID, (l = []));
    l.push(t);
  }
  const services: PlanService[] = [];
  for (const s of objects.services) {
    const vips = (s.Endpoint?.VirtualIPs ?? []).filter((v) => served.has(v.NetworkID)).map((v) => ({ networkId: v.NetworkID, addr: plain(v.Addr) }));
    const ports: PlanPort[] = (s.Endpoint?.Ports ?? [])
      .filter((p) => (p.Protocol ?? 'tcp') !== 'sctp' && p.PublishedPort)
      .map((p) => ({ protocol: (p.Protocol ?? 'tcp') as 'tcp' | 'udp', targetPort: p.TargetPort, publishedPort: p.PublishedPort!, mode: p.PublishMode ?? 'ingress' }));
    const meshPorts = ports.some((p) => p.mode === 'ingress') && ingress !== undefined && served.has(ingress.ID);
    if (vips.length === 0 && !meshPorts) continue;
    const backends: PlanBackend[] = [];
    for (const t of running.get(s.ID) ?? []) {
      const local = t.NodeID === nodeId;
      if (!ownNamespace(t, nodesById)) {
        // Reached at its node's underlay address on its host ports, on every network it joins.
        const hostPorts = hostPortsOf(t);
        const u = underlay.get(t.NodeID);
        if (hostPorts.length === 0 || !u) continue;
        for (const a of t.NetworksAttachments ?? []) if (served.has(a.Network.ID)) backends.push({ taskId: t.ID, networkId: a.Network.ID, addr: u, local, hostPorts });
        continue;
      }
      for (const a of t.NetworksAttachments ?? []) {
        if (served.has(a.Network.ID) && a.Addresses[0]) backends.push({ taskId: t.ID, networkId: a.Network.ID, addr: plain(a.Addresses[0]), local });
      }
    }
    const aliases: PlanService['aliases'] = [];
    for (const ref of s.Spec.TaskTemplate.Networks ?? s.Spec.Networks ?? []) {
      const n = netByRef(ref.Target);
      if (!n || !served.has(n.ID) || !ref.Aliases?.length || aliases.some((a) => a.networkId === n.ID)) continue;
      aliases.push({ networkId: n.ID, names: [...ref.Aliases] });
    }
    services.push({
      id: s.ID,
      name: s.Spec.Name,
      endpointMode: s.Spec.EndpointSpec?.Mode ?? 'vip',
      vips,
      ports,
      backends: backends.sort(byKey((b) => `${b.networkId}/${b.taskId}`)),
      preferLocal: s.Spec.Labels?.[PREFER_LOCAL_LABEL] === 'true',
      aliases: aliases.sort(byKey((a) => a.networkId)),
    });
  }

  return {
    nodeId,
    underlayAddr: node.Status.Addr,
    networks: networks.sort(byKey((n) => n.id)),
    tasks: tasks.sort(byKey((t) => t.taskId)),
    remotes: remotes.sort(byKey((r) => `${r.networkId}/${r.addr}`)),
    services: services.sort(byKey((s) => s.id)),
  };
}
