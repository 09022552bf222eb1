/**
 * The diff between what the kernel holds (observe.ts) and what a plan asks
 * for, as batch text for the tools. Pure: no I/O, so it is unit-tested on
 * its own. Only the difference is emitted — a re-apply of an unchanged plan
 * is empty batches, which is what lets a restarted node re-apply over
 * running tasks without touching their namespaces or connections.
 *
 * Order inside the `ip` batch matters and is: stale veths, stale netns,
 * stale or mismatched networks, then networks (bridge, VXLAN, addresses,
 * neighbours), then new task namespaces and veths. The FDB goes through
 * `bridge` afterwards (its devices must exist); inside each new task
 * namespace one `ip -n NS -batch -` sets addresses and the default route.
 */
import type { NodePlan, PlanNetwork } from '../interface.js';
import { bridgeName, macForAddr, vethName, OWNED_LINK, vxlanName } from './names.js';
import type { Observed } from './observe.js';
import { parseCidr } from './validate.js';

export const VXLAN_PORT = 4789;
/** VXLAN over IPv4 costs 50 bytes: outer Ethernet 14 + IP 20 + UDP 8 + VXLAN 8. */
export const VXLAN_OVERHEAD = 50;

export interface TaskBatch {
  netns: string;
  /** Lines for `ip -n <netns> -batch -`. */
  lines: string[];
  /** Host ends created for it: deleted again if the inside fails, so the next apply retries cleanly. */
  hostVeths: string[];
}

export interface ReconcileResult {
  ip: string[];
  bridge: string[];
  tasks: TaskBatch[];
  /** Bridges of the plan (route_localnet is set on each). */
  bridges: string[];
  /** Namespaces this data plane owns after the apply. */
  ownedNetns: Set<string>;
  /** Tasks whose runtime has not made their namespace yet: programmed by a later apply. */
  pendingNetns: number;
}

export interface DesiredNetwork {
  net: PlanNetwork;
  bridge: string;
  vxlan: string;
  mac: string;
  addrs: Set<string>;
  /** ip → mac */
  neigh: Map<string, string>;
  /** mac → underlay */
  fdb: Map<string, string>;
}

export function desiredNetworks(plan: NodePlan): Map<string, DesiredNetwork> {
  const out = new Map<string, DesiredNetwork>();
  for (const net of plan.networks) {
    const prefix = parseCidr(net.subnet)!.prefix;
    out.set(net.id, {
      net,
      bridge: bridgeName(net.vni),
      vxlan: vxlanName(net.vni),
      mac: macForAddr(net.nodeAddr),
      addrs: new Set([`${net.gateway}/${prefix}`, `${net.nodeAddr}/32`]),
      neigh: new Map(),
      fdb: new Map(),
    });
  }
  for (const s of plan.services) for (const v of s.vips) out.get(v.networkId)!.addrs.add(`${v.addr}/32`);
  for (const r of plan.remotes) {
    const d = out.get(r.networkId)!;
    d.neigh.set(r.addr, r.mac.toLowerCase());
    d.fdb.set(r.mac.toLowerCase(), r.nodeUnderlay);
  }
  return out;
}

export function reconcile(plan: NodePlan, seen: Observed, opts: { mtu: number; ownedNetns: ReadonlySet<string> }): ReconcileResult {
  const { mtu } = opts;
  const nets = desiredNetworks(plan);
  const ip: string[] = [];
  const bridge: string[] = [];
  const tasks: TaskBatch[] = [];

  // Desired veths, keyed by host-end name.
  const wantVeths = new Map<string, { netns: string; index: number; bridge: string; mac: string; addr: string; prefix: number }>();
  for (const t of plan.tasks) {
    for (const [index, a] of t.attachments.entries()) {
      const d = nets.get(a.networkId)!;
      wantVeths.set(vethName(t.netns, a.networkId, a.addr, a.mac.toLowerCase()), { netns: t.netns, index, bridge: d.bridge, mac: a.mac.toLowerCase(), addr: a.addr, prefix: parseCidr(d.net.subnet)!.prefix });
    }
  }
  const wantLinks = new Set<string>(wantVeths.keys());
  for (const d of nets.values()) wantLinks.add(d.bridge).add(d.vxlan);

  // 1. Stale veths (a removed task or a changed attachment).
  for (const name of seen.links.keys()) if (OWNED_LINK.veth.test(name) && !wantVeths.has(name)) ip.push(`link del dev ${name}`);
  // 2. Namespaces we made that no task needs any more.
  const planNetns = new Set(plan.tasks.map((t) => t.netns));
  const ownedNetns = new Set<string>();
  for (const ns of opts.ownedNetns) {
    if (planNetns.has(ns)) ownedNetns.add(ns);
    else if (seen.netns.has(ns)) ip.push(`netns del ${ns}`);
  }
  // 3. Networks gone: VXLAN first, then the bridge.
  for (const name of seen.links.keys()) if (OWNED_LINK.vxlan.test(name) && !wantLinks.has(name)) ip.push(`link del dev ${name}`);
  for (const name of seen.links.keys()) if (OWNED_LINK.bridge.test(name) && !wantLinks.has(name)) ip.push(`link del dev ${name}`);

  // 4. Networks.
  for (const d of nets.values()) {
    const br = seen.links.get(d.bridge);
    if (!br || br.kind !== 'bridge') {
      if (br) ip.push(`link del dev ${d.bridge}`);
      ip.push(`link add name ${d.bridge} address ${d.mac} mtu ${mtu} type bridge`);
      ip.push(`link set dev ${d.bridge} up`);
    } else if (br.mac !== d.mac || br.mtu !== mtu || !br.up) {
      ip.push(`link set dev ${d.bridge} address ${d.mac} mtu ${mtu} up`);
    }
    const haveAddrs = new Set(br && br.kind === 'bridge' ? br.addrs : []);
    for (const a of haveAddrs) if (!d.addrs.has(a)) ip.push(`addr del ${a} dev ${d.bridge}`);
    for (const a of d.addrs) if (!haveAddrs.has(a)) ip.push(`addr replace ${a} dev ${d.bridge}`);

    const vx = seen.links.get(d.vxlan);
    const vxOk =
      vx && vx.kind === 'vxlan' && vx.vxlan && vx.vxlan.id === d.net.vni && vx.vxlan.local === plan.underlayAddr && vx.vxlan.port === VXLAN_PORT && !vx.vxlan.learning && vx.vxlan.proxy;
    if (!vxOk) {
      if (vx) ip.push(`link del dev ${d.vxlan}`);
      ip.push(`link add name ${d.vxlan} mtu ${mtu} type vxlan id ${d.net.vni} local ${plan.underlayAddr} dstport ${VXLAN_PORT} nolearning proxy`);
      ip.push(`link set dev ${d.vxlan} master ${d.bridge} up`);
    } else if (vx.master !== d.bridge || vx.mtu !== mtu || !vx.up) {
      ip.push(`link set dev ${d.vxlan} master ${d.bridge} mtu ${mtu} up`);
    }
    // A recreated device starts with empty tables.
    const fresh = !vxOk;
    for (const [key, mac] of seen.neigh) {
      const [dev, addr] = key.split(' ');
      if (dev === d.vxlan && !fresh && d.neigh.get(addr) !== mac) ip.push(`neigh del ${addr} dev ${d.vxlan}`);
    }
    for (const [addr, mac] of d.neigh) if (fresh || seen.neigh.get(`${d.vxlan} ${addr}`) !== mac) ip.push(`neigh replace ${addr} lladdr ${mac} dev ${d.vxlan} nud permanent`);
    for (const [key, dst] of seen.fdb) {
      const [dev, mac] = key.split(' ');
      if (dev === d.vxlan && !fresh && d.fdb.get(mac) !== dst) bridge.push(`fdb del ${mac} dev ${d.vxlan} self`);
    }
    for (const [mac, dst] of d.fdb) if (fresh || seen.fdb.get(`${d.vxlan} ${mac}`) !== dst) bridge.push(`fdb replace ${mac} dev ${d.vxlan} dst ${dst} self permanent`);
  }
  // FDB entries on devices of networks that are gone die with their device.

  // 5. Tasks: namespaces, then one veth per attachment not yet made.
  let pendingNetns = 0;
  for (const t of plan.tasks) {
    if (!seen.netns.has(t.netns)) {
      // A runtime's namespace (docker's sandbox) is never made here: the runtime binds it, then asks for an apply.
      if (t.runtimeNetns) {
        pendingNetns++;
        continue;
      }
      ip.push(`netns add ${t.netns}`);
    }
    ownedNetns.add(t.netns);
    const lines: string[] = [];
    const hostVeths: string[] = [];
    for (const [name, v] of wantVeths) {
      if (v.netns !== t.netns) continue;
      const have = seen.links.get(name);
      if (have) {
        if (have.master !== v.bridge || !have.up || have.mtu !== mtu) ip.push(`link set dev ${name} master ${v.bridge} mtu ${mtu} up`);
        if (have.master !== v.bridge || !have.hairpin) ip.push(`link set dev ${name} type bridge_slave hairpin on`);
        continue;
      }
      const inner = `eth${v.index}`;
      ip.push(`link add name ${name} mtu ${mtu} type veth peer name ${inner} address ${v.mac} mtu ${mtu} netns ${t.netns}`);
      ip.push(`link set dev ${name} master ${v.bridge} up`);
      // Hairpin: with br_netfilter loaded (Docker loads it) a task's packet to
      // a VIP is DNATed in the bridge's own path and, when the pick is the
      // task itself, must leave by the port it came in on. Measured here:
      // without it, a task never reaches itself through its service's VIP.
      ip.push(`link set dev ${name} type bridge_slave hairpin on`);
      hostVeths.push(name);
      lines.push(`addr replace ${v.addr}/${v.prefix} dev ${inner}`, `link set dev ${inner} up`);
    }
    if (lines.length === 0) continue;
    // The default route goes through the first network that leads out; every gateway is this node.
    const out = t.attachments.map((a) => nets.get(a.networkId)!.net).find((n) => !n.internal);
    tasks.push({ netns: t.netns, hostVeths, lines: ['link set dev lo up', ...lines, ...(out ? [`route replace default via ${out.gateway}`] : [])] });
  }
  return { ip, bridge, tasks, bridges: [...nets.values()].map((d) => d.bridge), ownedNetns, pendingNetns };
}
