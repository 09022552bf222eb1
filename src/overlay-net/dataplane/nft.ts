/**
 * The nftables ruleset of one node, rendered from the plan (pure), in the
 * style of kube-proxy's nftables mode: one table `ip shoal` that Shoal owns
 * alone and refills whole in one `nft -f -` transaction per apply (the
 * kernel swaps it atomically: no packet sees half a ruleset). Established
 * connections survive a replacement: their NAT binding lives in conntrack,
 * not in the rules, so a removed backend keeps its open connections
 * (draining) while new connections never pick it again.
 *
 * Replacing is declare-flush-refill in one transaction (see renderRuleset).
 *
 * - VIP: `ip daddr VIP` (every TCP/UDP port, as Swarm's VIPs) → DNAT to a
 *   backend picked by `numgen random mod N`, marked so postrouting SNATs it
 *   to the network's nodeAddr: the reply must come back through this node
 *   (a local backend would otherwise answer the client straight over the
 *   bridge, past the NAT).
 * - Routing mesh (mode ingress): a published port on any local address
 *   (`fib daddr type local`) → DNAT to a backend on the ingress network. A
 *   local backend is *not* SNATed: it sees the client's real address and
 *   replies through its default route, which is this node. A remote one is
 *   SNATed to the ingress nodeAddr (postrouting: DNATed and not to a local
 *   task address).
 * - Mode host: DNAT only to this node's own backends, never SNATed.
 * - A backend in its node's own namespace (process task, PlanBackend.hostPorts)
 *   is its node's underlay address and one host port per target port: VIP
 *   rules per declared port go to `addr . port` (a map of address and port
 *   when ports differ), before the every-port rule of the namespace backends;
 *   the mesh the same. A remote one is SNATed to this node's underlay address
 *   (the reply must come back through here); a local one needs no SNAT (the
 *   connection ends in this node's own stack).
 * - The same DNAT chain hangs off `output` (connections the node opens
 *   itself, including to 127.0.0.1, which is then SNATed to nodeAddr — the
 *   bridge has route_localnet=1 so the kernel routes it at all).
 */
import type { NodePlan, PlanBackend, PlanPort, PlanService } from '../interface.js';
import { bridgeName } from './names.js';

export const NFT_TABLE = 'shoal';
/** The packet-mark bit of "SNAT this to nodeAddr" (VIP traffic). */
export const SNAT_MARK = 0x10000000;

/** Where a connection goes: an address, and the port when it changes (else the packet keeps its own). */
export interface Target {
  addr: string;
  port?: number;
}

function dnatTo(targets: Target[]): string {
  const ports = new Set(targets.map((t) => t.port));
  if (ports.size === 1) {
    // One port for all (or none: the packet keeps its own): `dnat to A:P`, or a map of addresses then `:P`.
    const [port] = ports;
    const p = port === undefined ? '' : `:${port}`;
    if (targets.length === 1) return `dnat to ${targets[0]!.addr}${p}`;
    return `dnat to numgen random mod ${targets.length} map { ${targets.map((t, i) => `${i} : ${t.addr}`).join(', ')} }${p}`;
  }
  // Ports differ (tasks in their node's namespace listen on host ports): a map to address . port.
  return `dnat ip to numgen random mod ${targets.length} map { ${targets.map((t, i) => `${i} : ${t.addr} . ${t.port}`).join(', ')} }`;
}

/**
 * Where one backend serves `protocol`/`targetPort` (null: every port, as a
 * VIP): its address (with the target port when one is named), or for a task
 * in its node's own namespace (hostPorts) its node's address and host port;
 * null when it does not serve it (a host-port backend serves named ports only).
 */
function targetOf(b: PlanBackend, port: { protocol: 'tcp' | 'udp'; targetPort: number } | null): Target | null {
  if (!b.hostPorts) return port ? { addr: b.addr, port: port.targetPort } : { addr: b.addr };
  if (!port) return null;
  const h = b.hostPorts.find((x) => x.protocol === port.protocol && x.targetPort === port.targetPort);
  return h ? { addr: b.addr, port: h.port } : null;
}

/** Targets of backends on one network, one per task, in a stable order (the map's indices). */
function uniqueTargets(backends: PlanBackend[], port: { protocol: 'tcp' | 'udp'; targetPort: number } | null): Target[] {
  const seen = new Set<string>();
  const out: Target[] = [];
  for (const b of backends) {
    if (seen.has(b.taskId)) continue;
    const t = targetOf(b, port);
    if (!t) continue;
    seen.add(b.taskId);
    out.push(t);
  }
  return out.sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : (a.port ?? 0) - (b.port ?? 0)));
}

/** Where a published port leads, or [] when no backend qualifies (the port is then closed: RST). */
export function meshTargets(s: PlanService, p: PlanPort, ingressId: string | null): Target[] {
  const port = { protocol: p.protocol, targetPort: p.targetPort };
  if (p.mode === 'host') return uniqueTargets(s.backends.filter((b) => b.local), port);
  if (!ingressId) return [];
  const onIngress = s.backends.filter((b) => b.networkId === ingressId);
  const local = s.preferLocal ? uniqueTargets(onIngress.filter((b) => b.local), port) : [];
  return local.length > 0 ? local : uniqueTargets(onIngress, port);
}

/** The (protocol, target port) pairs host-port backends serve, in a stable order. */
function hostPortKeys(backends: PlanBackend[]): { protocol: 'tcp' | 'udp'; targetPort: number }[] {
  const keys = new Map<string, { protocol: 'tcp' | 'udp'; targetPort: number }>();
  for (const b of backends) for (const h of b.hostPorts ?? []) keys.set(`${h.protocol}/${h.targetPort}`, { protocol: h.protocol, targetPort: h.targetPort });
  return [...keys.values()].sort((a, b) => a.targetPort - b.targetPort || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}

export function renderRuleset(plan: NodePlan): string {
  const ingress = plan.networks.find((n) => n.ingress) ?? null;
  const dnat: string[] = [];
  const filter: string[] = [];
  const mark = `0x${SNAT_MARK.toString(16)}`;
  const vipsOn = new Map<string, string[]>();
  for (const s of plan.services) {
    if (s.endpointMode !== 'vip') continue;
    for (const v of s.vips) {
      vipsOn.set(v.networkId, [...(vipsOn.get(v.networkId) ?? []), v.addr]);
      const onNet = s.backends.filter((b) => b.networkId === v.networkId);
      // Host-port backends serve the ports their service declares: one rule per port, before the every-port rule.
      for (const k of hostPortKeys(onNet)) {
        dnat.push(`ip daddr ${v.addr} ${k.protocol} dport ${k.targetPort} meta mark set meta mark | ${mark} ${dnatTo(uniqueTargets(onNet, k))}`);
      }
      const every = uniqueTargets(onNet, null);
      if (every.length === 0) {
        // No backend (for the other ports): refuse at once rather than let the VIP's own stack answer or time out.
        filter.push(`ip daddr ${v.addr} meta l4proto tcp reject with tcp reset`);
        filter.push(`ip daddr ${v.addr} meta l4proto udp reject`);
        continue;
      }
      dnat.push(`ip daddr ${v.addr} meta l4proto { tcp, udp } meta mark set meta mark | ${mark} ${dnatTo(every)}`);
    }
  }
  for (const s of plan.services) {
    for (const p of s.ports) {
      const targets = meshTargets(s, p, ingress?.id ?? null);
      if (targets.length === 0) continue;
      dnat.push(`fib daddr type local ${p.protocol} dport ${p.publishedPort} ${dnatTo(targets)}`);
    }
  }
  // Internal networks (--internal): nothing is routed in or out of them. A
  // task on one has no default route either; this holds even if it adds one.
  const isolate: string[] = [];
  for (const n of plan.networks) {
    if (!n.internal) continue;
    const br = `"${bridgeName(n.vni)}"`;
    isolate.push(`iifname ${br} oifname != ${br} drop`, `oifname ${br} iifname != ${br} drop`);
  }
  const snat: string[] = [];
  const localAddrs = new Map<string, string[]>();
  for (const t of plan.tasks) for (const a of t.attachments) localAddrs.set(a.networkId, [...(localAddrs.get(a.networkId) ?? []), a.addr]);
  for (const n of plan.networks) {
    const br = `oifname "${bridgeName(n.vni)}"`;
    const to = `snat to ${n.nodeAddr}`;
    snat.push(`${br} meta mark & ${mark} == ${mark} ${to}`);
    // The mesh to a task on another node: the reply must come back here.
    const local = localAddrs.get(n.id) ?? [];
    snat.push(`${br} ct status dnat ${local.length ? `ip daddr != { ${local.join(', ')} } ` : ''}${to}`);
    // A client in the backend's own subnet would get the reply straight over L2.
    snat.push(`${br} ct status dnat ip saddr ${n.subnet} ${to}`);
    // The node's own traffic (a process task's too): from loopback (route_localnet), or picked from the
    // anycast gateway or a VIP (the source the kernel picks for a local destination is that address).
    snat.push(`${br} ip saddr { ${['127.0.0.0/8', n.gateway, ...(vipsOn.get(n.id) ?? [])].join(', ')} } ${to}`);
  }
  // A task in another node's namespace (host port) is reached over the underlay, past every bridge:
  // its reply must come back here, where the connection's NAT state is.
  const remoteHost = [...new Set(plan.services.flatMap((s) => s.backends.filter((b) => b.hostPorts && !b.local).map((b) => b.addr)))].sort();
  if (remoteHost.length > 0) snat.push(`ct status dnat ip daddr { ${remoteHost.join(', ')} } snat to ${plan.underlayAddr}`);
  // Declare every chain (a no-op when it exists), flush them all, refill: one
  // transaction, so atomic. Not `delete table`: unregistering base chains from
  // their hooks waits for an RCU grace period (tens of ms on a busy machine),
  // and a backend removal is on the clock.
  const chains: [string, string | null, string[]][] = [
    ['to_backend', null, dnat],
    ['to_nodeaddr', null, snat],
    ['refuse_vip', null, filter],
    ['isolate', null, isolate],
    ['prerouting', 'type nat hook prerouting priority dstnat; policy accept;', ['jump to_backend']],
    ['output', 'type nat hook output priority -100; policy accept;', ['jump to_backend']],
    ['postrouting', 'type nat hook postrouting priority srcnat; policy accept;', ['jump to_nodeaddr']],
    ['input', 'type filter hook input priority filter; policy accept;', ['jump refuse_vip']],
    ['forward', 'type filter hook forward priority filter; policy accept;', ['jump isolate']],
  ];
  const lines = [
    `table ip ${NFT_TABLE} {`,
    ...chains.map(([name, base]) => `  chain ${name} {${base ? ` ${base}` : ''} }`),
    `}`,
    ...chains.map(([name]) => `flush chain ip ${NFT_TABLE} ${name}`),
    `table ip ${NFT_TABLE} {`,
    ...chains.flatMap(([name, , rules]) => [`  chain ${name} {`, ...rules.map((l) => `    ${l}`), `  }`]),
    `}`,
  ];
  return lines.join('\n') + '\n';
}

/** Removes the table (idempotent: creating it first makes the delete always valid). */
export function renderDelete(): string {
  return `table ip ${NFT_TABLE}\ndelete table ip ${NFT_TABLE}\n`;
}
