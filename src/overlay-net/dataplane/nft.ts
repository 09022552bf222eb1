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
 * - The same DNAT chain hangs off `output` (connections the node opens
 *   itself, including to 127.0.0.1, which is then SNATed to nodeAddr — the
 *   bridge has route_localnet=1 so the kernel routes it at all).
 */
import type { NodePlan, PlanBackend, PlanService } from '../interface.js';
import { bridgeName } from './names.js';

export const NFT_TABLE = 'shoal';
/** The packet-mark bit of "SNAT this to nodeAddr" (VIP traffic). */
export const SNAT_MARK = 0x10000000;

function dnatTo(addrs: string[], port?: number): string {
  const p = port === undefined ? '' : `:${port}`;
  if (addrs.length === 1) return `dnat to ${addrs[0]}${p}`;
  return `dnat to numgen random mod ${addrs.length} map { ${addrs.map((a, i) => `${i} : ${a}`).join(', ')} }${p}`;
}

/** Backends on one network, one per task, in a stable order (the map's indices). */
function uniqueAddrs(backends: PlanBackend[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const b of backends) {
    if (seen.has(b.taskId)) continue;
    seen.add(b.taskId);
    out.push(b.addr);
  }
  return out.sort();
}

/** Where a published port leads, or null when no backend qualifies (the port is then closed: RST). */
export function meshBackends(s: PlanService, mode: 'ingress' | 'host', ingressId: string | null): string[] {
  if (mode === 'host') return uniqueAddrs(s.backends.filter((b) => b.local));
  if (!ingressId) return [];
  const onIngress = s.backends.filter((b) => b.networkId === ingressId);
  const local = onIngress.filter((b) => b.local);
  return uniqueAddrs(s.preferLocal && local.length > 0 ? local : onIngress);
}

export function renderRuleset(plan: NodePlan): string {
  const ingress = plan.networks.find((n) => n.ingress) ?? null;
  const dnat: string[] = [];
  const filter: string[] = [];
  const mark = `0x${SNAT_MARK.toString(16)}`;
  for (const s of plan.services) {
    if (s.endpointMode !== 'vip') continue;
    for (const v of s.vips) {
      const addrs = uniqueAddrs(s.backends.filter((b) => b.networkId === v.networkId));
      if (addrs.length === 0) {
        // No backend: refuse at once rather than let the VIP's own stack time out.
        filter.push(`ip daddr ${v.addr} meta l4proto tcp reject with tcp reset`);
        filter.push(`ip daddr ${v.addr} meta l4proto udp reject`);
        continue;
      }
      dnat.push(`ip daddr ${v.addr} meta l4proto { tcp, udp } meta mark set meta mark | ${mark} ${dnatTo(addrs)}`);
    }
  }
  for (const s of plan.services) {
    for (const p of s.ports) {
      const addrs = meshBackends(s, p.mode, ingress?.id ?? null);
      if (addrs.length === 0) continue;
      dnat.push(`fib daddr type local ${p.protocol} dport ${p.publishedPort} ${dnatTo(addrs, p.targetPort)}`);
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
    // The node's own traffic: from loopback (route_localnet) or picked from the anycast gateway.
    snat.push(`${br} ip saddr { 127.0.0.0/8, ${n.gateway} } ${to}`);
  }
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
