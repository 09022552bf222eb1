/**
 * Overlay allocation, run inside the store's apply: Raft's total order is the
 * allocator's lock, and every manager applying the same log computes the same
 * VNIs, subnets, VIPs, task and node addresses and published ports (each is
 * the lowest free one, and every walk over objects goes in ID order).
 *
 * The fields it fills are owned by the store: whatever a proposer sends in
 * Network.ShoalOverlay, Service.Endpoint, Task.NetworksAttachments or
 * Node.ShoalAttachments is ignored and replaced by what is allocated (or
 * carried over from the stored object), so a proposer writing back an object
 * it read earlier can never resurrect or drop an allocation.
 *
 * Rules (why):
 * - A service attaches to TaskTemplate.Networks and Spec.Networks (Docker
 *   treats them alike) and to `ingress` when it publishes a port in ingress
 *   mode; in `vip` mode it holds one VIP per network, kept across updates.
 * - A task gets one address per network of its service when it is created;
 *   the address is free again once its observed state is terminal.
 * - A node holds an address on a network once a task placed on it joins the
 *   network, and on `ingress` whenever any service publishes an ingress port
 *   (all nodes then take part in the routing mesh). A node keeps them until
 *   it is removed or the network is deleted: re-joining is then free.
 * - `ingress` is created with the cluster object (a stable ID derived from the
 *   cluster's), or at first need in a store that predates it.
 */
import { isTerminal, type Network, type NetworkAttachment, type Node, type Service, type Task } from '../../model/index.js';
import {
  checkUserSubnet,
  formatCidr,
  formatIPv4,
  INGRESS_SUBNET,
  INGRESS_VNI,
  lowestFree,
  nextFreeSubnet,
  nextVni,
  overlaps,
  parseCidr,
  parseIPv4,
  withPrefix,
  type Cidr,
  type TakenSubnet,
} from '../../overlay-net/ipam/index.js';
import type { AnyObject, Kind } from './commands.js';
import { endpointPorts } from './endpoint-ports.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { hostPortKey, withHostPorts } from './task-host-ports.js';
import type { AllocStage } from './alloc-stage.js';
export type { AllocStage } from './alloc-stage.js';
import { asStoreError, guard, ingressId, INGRESS_NAME, isIngressPort, networkRefs, publishesIngress } from './overlay-rules.js';

/** What the allocator needs of a transaction's stage. */

const byId = <T extends { ID: string }>(a: T, b: T) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0);

export class NetAlloc {
  constructor(
    private readonly st: AllocStage,
    private readonly index: number,
    private readonly time: string,
  ) {}

  /** The object a create or update of `kind` stores, with its allocations. */
  prepare(kind: Kind, next: AnyObject, cur: AnyObject | undefined): AnyObject {
    switch (kind) {
      case 'network':
        return this.network(next as Network, cur as Network | undefined);
      case 'service':
        return this.service(next as Service, cur as Service | undefined);
      case 'task':
        return this.task(next as Task, cur as Task | undefined);
      case 'node':
        return this.node(next as Node, cur as Node | undefined);
      default:
        return next;
    }
  }

  // ---------------------------------------------------------- networks

  /** A network being created or replaced: its overlay is allocated once and never changes. */
  network(next: Network, cur: Network | undefined): Network {
    if (cur) {
      if (next.Spec.Ingress !== cur.Spec.Ingress) throw new StoreError(StoreErrorCode.INVALID, 'a network cannot become or stop being the ingress network', 'Spec.Ingress');
      return { ...next, Spec: { ...next.Spec, IPAM: cur.Spec.IPAM }, ...(cur.ShoalOverlay ? { ShoalOverlay: cur.ShoalOverlay } : {}) };
    }
    const others = this.st.list('network').filter((n) => n.ID !== next.ID && n.ShoalOverlay);
    if (next.Spec.Ingress && others.some((n) => n.Spec.Ingress)) throw new StoreError(StoreErrorCode.NAME_CONFLICT, 'the cluster already has an ingress network', 'Spec.Ingress');
    const taken: TakenSubnet[] = others.map((n) => ({ name: n.Spec.Name, subnet: parseCidr(n.ShoalOverlay!.Subnet) }));
    const usedVnis = others.map((n) => n.ShoalOverlay!.VNI);
    const cfg = next.Spec.IPAM?.Config?.[0];
    let subnet: Cidr;
    let gateway: number;
    try {
      if (cfg?.Subnet) {
        ({ subnet, gateway } = checkUserSubnet(cfg.Subnet, cfg.Gateway, taken));
      } else {
        if (cfg?.Gateway) throw new StoreError(StoreErrorCode.INVALID, 'a gateway needs a subnet', 'IPAM.Config[0].Gateway');
        const wanted = parseCidr(INGRESS_SUBNET);
        subnet = next.Spec.Ingress && !taken.some((t) => overlaps(t.subnet, wanted)) ? wanted : nextFreeSubnet(taken);
        gateway = subnet.base + 1;
      }
    } catch (err) {
      throw asStoreError(err);
    }
    const vni = next.Spec.Ingress && !usedVnis.includes(INGRESS_VNI) ? INGRESS_VNI : guard(() => nextVni(usedVnis));
    const overlay = { VNI: vni, Subnet: formatCidr(subnet), Gateway: formatIPv4(gateway) };
    return {
      ...next,
      Spec: { ...next.Spec, Driver: next.Spec.Driver ?? 'overlay', Scope: 'swarm', IPAM: { Driver: next.Spec.IPAM?.Driver ?? 'default', Config: [{ Subnet: overlay.Subnet, Gateway: overlay.Gateway }] } },
      ShoalOverlay: overlay,
    };
  }

  /** Refuses deleting a network a service uses; drops the nodes' addresses on it. */
  networkDeleted(n: Network): void {
    const users = this.st
      .list('service')
      .filter((s) => networkRefs(s).some((r) => r.ref.Target === n.ID) || (n.Spec.Ingress && publishesIngress(s)))
      .map((s) => s.Spec.Name)
      .sort();
    if (users.length > 0) throw new StoreError(StoreErrorCode.FAILED_PRECONDITION, `network ${n.Spec.Name} is in use by service${users.length > 1 ? 's' : ''} ${users.join(', ')}`);
    for (const node of this.st.list('node').sort(byId)) {
      const keep = (node.ShoalAttachments ?? []).filter((a) => a.NetworkID !== n.ID);
      if (keep.length !== (node.ShoalAttachments ?? []).length) this.putNode({ ...node, ShoalAttachments: keep });
    }
  }

  /** The cluster's ingress network, created now if the store has none. */
  ensureIngress(): Network {
    const found = this.st.list('network').find((n) => n.Spec.Ingress);
    if (found) return found;
    const cluster = this.st.list('cluster')[0];
    const draft: Network = {
      ID: ingressId(cluster?.ID ?? ''),
      Version: { Index: this.index },
      CreatedAt: this.time,
      UpdatedAt: this.time,
      Spec: { Name: INGRESS_NAME, Labels: {}, Driver: 'overlay', Scope: 'swarm', Ingress: true },
    };
    const n = this.network(draft, undefined);
    this.st.put('network', n, 'create');
    return n;
  }

  // ---------------------------------------------------------- services

  /** A service being created or replaced: its VIPs and published ports. */
  service(next: Service, cur: Service | undefined): Service {
    const nets: { net: Network; aliases: string[] }[] = [];
    for (const { ref, field } of networkRefs(next)) {
      const n = this.st.get('network', ref.Target) as Network | undefined;
      if (!n) throw new StoreError(StoreErrorCode.INVALID, `network ${ref.Target} not found`, field);
      if (n.Spec.Ingress) throw new StoreError(StoreErrorCode.INVALID, 'a service cannot be attached to the ingress network explicitly (publish a port instead)', field);
      if (!nets.some((x) => x.net.ID === n.ID)) nets.push({ net: n, aliases: ref.Aliases ?? [] });
    }
    const ingress = publishesIngress(next) ? this.ensureIngress() : null;
    if (ingress) nets.push({ net: ingress, aliases: [] });
    const ports = endpointPorts(next, cur, this.st.list('service'));
    // The mesh takes an ingress port on every local address: one a process task listens on now would be shadowed.
    ports.forEach((p, i) => {
      if (!isIngressPort(p) || !p.PublishedPort || cur?.Endpoint?.Ports?.some((h) => isIngressPort(h) && h.PublishedPort === p.PublishedPort)) return;
      const node = this.st.list('node').sort(byId).find((n) => this.st.addrUsed(hostPortKey(n.ID), p.PublishedPort!));
      if (node) throw new StoreError(StoreErrorCode.INVALID, `port ${p.PublishedPort} is a host port of a task on node ${node.ID}`, `Spec.EndpointSpec.Ports[${i}].PublishedPort`);
    });
    const spec = next.Spec.EndpointSpec ?? { Mode: 'vip' as const };
    const vips: { NetworkID: string; Addr: string }[] = [];
    if ((spec.Mode ?? 'vip') === 'vip') {
      for (const { net } of nets) {
        const kept = cur?.Endpoint?.VirtualIPs?.find((v) => v.NetworkID === net.ID);
        if (kept) {
          vips.push(kept);
          continue;
        }
        const ip = this.allocAddr(net, `virtual IP for service ${next.Spec.Name}`);
        vips.push({ NetworkID: net.ID, Addr: withPrefix(ip, parseCidr(net.ShoalOverlay!.Subnet)) });
      }
    }
    if (ingress) for (const node of this.st.list('node').sort(byId)) this.nodeJoins(node.ID, ingress);
    const endpoint: NonNullable<Service['Endpoint']> = { Spec: spec };
    if (ports.length > 0) endpoint.Ports = ports;
    if (vips.length > 0) endpoint.VirtualIPs = vips;
    return { ...next, Endpoint: endpoint };
  }

  // ------------------------------------------------------------- tasks

  /**
   * A task being created or replaced. A new task (or a replacement that
   * revives a finished task, whose addresses were released) gets one address
   * per network; otherwise it keeps what it had. A subnet with no free address rejects
   * the task (its Err says why; the orchestrator replaces it later) rather
   * than the whole transaction, which carries other tasks too.
   */
  task(next: Task, cur: Task | undefined): Task {
    let t: Task;
    // Kept unless this replacement brings a finished task back to life (its addresses may be another's by now).
    if (cur && (!isTerminal(cur.Status.State) || isTerminal(next.Status.State))) {
      t = { ...next };
      if (cur.NetworksAttachments) t.NetworksAttachments = cur.NetworksAttachments;
      else delete t.NetworksAttachments;
    } else {
      t = this.attach(next);
    }
    this.placed(t);
    return withHostPorts(this.st, t, cur, this.time);
  }

  /** A task whose status or node a patch changed: its host ports, kept or allocated (task-host-ports.ts). */
  patchedTask(next: Task, cur: Task): Task {
    return withHostPorts(this.st, next, cur, this.time);
  }

  private attach(task: Task): Task {
    const { NetworksAttachments: _ignored, ...t } = task;
    if (isTerminal(t.Status.State)) return t;
    const nets = this.taskNetworks(t);
    if (nets.length === 0) return t;
    const out: NetworkAttachment[] = [];
    for (const { net, aliases } of nets) {
      let ip: number;
      try {
        ip = this.allocAddr(net, `address for task ${t.ID}`);
      } catch (err) {
        const msg = (err as Error).message;
        return { ...t, Status: { ...t.Status, State: 'rejected', Message: 'network allocation failed', Err: msg, Timestamp: this.time } };
      }
      out.push({ Network: { ID: net.ID, Spec: net.Spec }, Addresses: [withPrefix(ip, parseCidr(net.ShoalOverlay!.Subnet))], ...(aliases.length > 0 ? { Aliases: aliases } : {}) });
    }
    return { ...t, NetworksAttachments: out };
  }

  /** The networks a task joins: its service's (as staged now), or its own spec's when the service is gone. */
  private taskNetworks(t: Task): { net: Network; aliases: string[] }[] {
    const svc = this.st.get('service', t.ServiceID) as Service | undefined;
    const refs = svc ? networkRefs(svc).map((r) => r.ref) : (t.Spec.Networks ?? []);
    const out: { net: Network; aliases: string[] }[] = [];
    for (const ref of refs) {
      const n = this.st.get('network', ref.Target) as Network | undefined;
      // A network deleted meanwhile is skipped: a task is never refused for it.
      if (n?.ShoalOverlay && !out.some((x) => x.net.ID === n.ID)) out.push({ net: n, aliases: ref.Aliases ?? [] });
    }
    if (svc && publishesIngress(svc)) {
      const ing = this.ensureIngress();
      if (!out.some((x) => x.net.ID === ing.ID)) out.push({ net: ing, aliases: [] });
    }
    return out;
  }

  /** A live task on a node: the node joins the task's networks. */
  placed(t: Task): void {
    if (!t.NodeID || isTerminal(t.Status.State)) return;
    for (const a of t.NetworksAttachments ?? []) {
      const n = this.st.get('network', a.Network.ID) as Network | undefined;
      if (n) this.nodeJoins(t.NodeID, n);
    }
  }

  // ------------------------------------------------------------- nodes

  /** A node being created or replaced: it keeps the addresses it holds, and joins ingress if the mesh is in use. */
  node(next: Node, cur: Node | undefined): Node {
    const n: Node = { ...next };
    if (cur?.ShoalAttachments) n.ShoalAttachments = cur.ShoalAttachments;
    else delete n.ShoalAttachments;
    if (cur) return n;
    if (!this.st.list('service').some(publishesIngress)) return n;
    const ingress = this.ensureIngress();
    const ip = this.tryAlloc(ingress);
    if (ip !== null) n.ShoalAttachments = [...(n.ShoalAttachments ?? []), { NetworkID: ingress.ID, Addr: formatIPv4(ip) }];
    return n;
  }

  /**
   * Gives a node an address on a network unless it has one. A full subnet
   * leaves the node without one (its tasks there still have theirs; only
   * forwarding to other nodes' tasks waits for an address to free up).
   */
  private nodeJoins(nodeId: string, net: Network): void {
    const node = this.st.get('node', nodeId) as Node | undefined;
    if (!node || (node.ShoalAttachments ?? []).some((a) => a.NetworkID === net.ID)) return;
    const ip = this.tryAlloc(net);
    if (ip === null) return;
    this.putNode({ ...node, ShoalAttachments: [...(node.ShoalAttachments ?? []), { NetworkID: net.ID, Addr: formatIPv4(ip) }] });
  }

  private putNode(n: Node): void {
    this.st.put('node', { ...n, Version: { Index: this.index }, UpdatedAt: this.time }, 'update');
  }

  // --------------------------------------------------------- addresses

  private allocAddr(net: Network, what: string): number {
    const o = net.ShoalOverlay;
    if (!o) throw new StoreError(StoreErrorCode.FAILED_PRECONDITION, `network ${net.Spec.Name} has no overlay allocated`);
    const subnet = parseCidr(o.Subnet);
    const ip = guard(() => lowestFree(subnet, parseIPv4(o.Gateway), (x) => this.st.addrUsed(net.ID, x), `${what} on network ${net.Spec.Name}`));
    this.st.claim(net.ID, ip);
    return ip;
  }

  private tryAlloc(net: Network): number | null {
    try {
      return this.allocAddr(net, 'node address');
    } catch (err) {
      if (err instanceof StoreError) return null;
      throw err;
    }
  }
}
