/**
 * The contract between the two halves of the overlay network.
 *
 * The control half (managers) owns the objects: networks with their VNI and
 * subnet, one address per task per network, one VIP per service per network
 * and one address per node per network (its "load balancer" address, which
 * is the source address for traffic the node NATs to a remote task). All of
 * them are allocated inside the store's apply step, so Raft's total order is
 * the allocator's lock: two owners of one address cannot exist.
 *
 * The data half (every node) receives a `NodePlan` — everything the node must
 * program, already resolved — and makes the kernel match it: a bridge per
 * network, a VXLAN device per network with unicast FDB and neighbour entries
 * (no multicast, no learning), a network namespace and veth per task,
 * nftables maps for VIPs and published ports, and the embedded DNS resolver.
 *
 * Addressing inside one network (why it looks like this):
 * - `gateway` (the subnet's first address) sits on the network's bridge on
 *   *every* node: an anycast gateway. Broadcasts never cross nodes (the VXLAN
 *   device answers ARP from its neighbour table, `proxy`), so each task's
 *   default route and DNS server is its own node.
 * - `nodeAddr` is this node's own address on the network. Traffic the node
 *   forwards to a task on another node leaves with this source, so the reply
 *   comes back through the node that holds the connection's NAT state.
 * - VIPs are addresses on the bridge too, so a task's packet to a VIP enters
 *   the node's own stack, where nftables picks a backend.
 */

/** One overlay network as this node must build it. */
export interface PlanNetwork {
  id: string;
  name: string;
  /** VXLAN network identifier, unique in the cluster (store-allocated). */
  vni: number;
  /** CIDR, e.g. "10.0.1.0/24". */
  subnet: string;
  /** The anycast gateway, no prefix length, e.g. "10.0.1.1". */
  gateway: string;
  /** This node's own address on the network, no prefix length. */
  nodeAddr: string;
  /** No route out of the network (docker network create --internal). */
  internal: boolean;
  /** The routing mesh's network. */
  ingress: boolean;
}

/** A task running on this node and its place on each network it joins. */
export interface PlanTask {
  taskId: string;
  /** The task's network namespace name under /run/netns (the runtime joins it). */
  netns: string;
  serviceName: string;
  attachments: { networkId: string; addr: string; mac: string; aliases: string[] }[];
  /**
   * The task's runtime makes the namespace (docker: a sandbox container's,
   * bound at /run/netns/<netns>): the data plane never creates it, programs
   * it once it exists, and drops the binding when the task leaves the plan.
   */
  runtimeNetns?: boolean;
}

/** A task on another node: where to send frames for its address. */
export interface PlanRemoteEndpoint {
  networkId: string;
  addr: string;
  mac: string;
  /** The other node's underlay address (VXLAN destination). */
  nodeUnderlay: string;
}

export interface PlanPort {
  protocol: 'tcp' | 'udp';
  targetPort: number;
  publishedPort: number;
  mode: 'ingress' | 'host';
}

/** A backend of a service: one running task's address on one network. */
export interface PlanBackend {
  taskId: string;
  networkId: string;
  addr: string;
  /** The task runs on this node (the routing mesh keeps the client's source address). */
  local: boolean;
  /**
   * Set for a task in its node's own network namespace (process runtime,
   * Nomad's model): `addr` is then its node's underlay address, and the task
   * serves each target port on a host port of that address, so DNAT goes to
   * `addr:port` instead of `addr:targetPort`. A port it has no entry for
   * (TCP/UDP, target port) does not lead to it.
   */
  hostPorts?: PlanHostPort[];
}

/** One target port of a process task and the host port it listens on. */
export interface PlanHostPort {
  protocol: 'tcp' | 'udp';
  targetPort: number;
  port: number;
}

export interface PlanService {
  id: string;
  name: string;
  endpointMode: 'vip' | 'dnsrr';
  /** One VIP per network (empty for dnsrr). */
  vips: { networkId: string; addr: string }[];
  ports: PlanPort[];
  /** Only tasks whose state is `running` (and healthy, once health checks gate it). */
  backends: PlanBackend[];
  /** Prefer local backends for published ports when any exist. */
  preferLocal: boolean;
  /**
   * The service's network aliases (`--network name=N,alias=A`), per network:
   * more names for the service there, as in Docker — each resolves as the
   * service name does (its VIP, or every backend for dnsrr), and `tasks.<alias>`
   * to every backend. Names the service on every node, not only where a task runs.
   */
  aliases: { networkId: string; names: string[] }[];
}

/** Everything one node programs. Built from the store by `buildNodePlan`. */
export interface NodePlan {
  nodeId: string;
  /** This node's address on the underlay (the VXLAN source). */
  underlayAddr: string;
  networks: PlanNetwork[];
  tasks: PlanTask[];
  remotes: PlanRemoteEndpoint[];
  services: PlanService[];
}

/** The part of a node that makes the kernel match a plan. */
export interface DataPlane {
  /** Idempotent: converge the kernel to `plan`, removing what it no longer holds. */
  apply(plan: NodePlan): Promise<void>;
  /** Remove every namespace, link, address and rule this data plane made. */
  teardown(): Promise<void>;
}
