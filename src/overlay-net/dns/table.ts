/**
 * The names a plan defines, per network (pure: built from the plan, queried
 * by the server). A task sees the names of the networks it is attached to,
 * as in Docker:
 *   <service>                   → its VIP on that network (dnsrr: every backend)
 *   tasks.<service>             → every backend's address on that network
 *   <service>.<network>, tasks.<service>.<network>  → the same, on that network
 *   <alias>, tasks.<alias>      → as <service>, tasks.<service>: a service's
 *                                 network aliases are more names for it
 * each optionally followed by the cluster domain.
 */
import type { NodePlan } from '../interface.js';

export interface Entry {
  addrs: string[];
  ttl: number;
  /** Rotate the order between answers (round-robin across clients). */
  rotate: boolean;
}

export type Lookup = { found: true; entry: Entry } | { found: false; underDomain: boolean };

interface NetNames {
  name: string;
  internal: boolean;
  cidr: { base: number; mask: number };
  names: Map<string, Entry>;
}

function ipInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function add(map: Map<string, Entry>, name: string, addr: string, ttl: number, rotate: boolean): void {
  const key = name.toLowerCase();
  const e = map.get(key);
  if (!e) map.set(key, { addrs: [addr], ttl, rotate });
  else if (!e.addrs.includes(addr)) e.addrs.push(addr);
}

export class NameTable {
  private readonly nets = new Map<string, NetNames>();
  /** A local task's address → its networks, the one of that address first. */
  private readonly taskScopes = new Map<string, string[]>();
  private rr = 0;

  constructor(
    plan: NodePlan,
    private readonly domain: string,
    ttl: { vip: number; task: number },
  ) {
    for (const n of plan.networks) {
      const [base, len] = n.subnet.split('/');
      const mask = Number(len) === 0 ? 0 : (0xffffffff << (32 - Number(len))) >>> 0;
      this.nets.set(n.id, { name: n.name.toLowerCase(), internal: n.internal, cidr: { base: ipInt(base) & mask, mask }, names: new Map() });
    }
    for (const s of plan.services) {
      const netIds = new Set([...s.vips.map((v) => v.networkId), ...s.backends.map((b) => b.networkId)]);
      for (const id of netIds) {
        const names = this.nets.get(id)?.names;
        if (!names) continue;
        const backends = s.backends.filter((b) => b.networkId === id).map((b) => b.addr);
        const vip = s.vips.find((v) => v.networkId === id);
        for (const name of [s.name, ...(s.aliases.find((a) => a.networkId === id)?.names ?? [])]) {
          if (s.endpointMode === 'vip' && vip) add(names, name, vip.addr, ttl.vip, false);
          if (s.endpointMode === 'dnsrr') for (const a of backends) add(names, name, a, ttl.task, true);
          for (const a of backends) add(names, `tasks.${name}`, a, ttl.task, true);
          // A dnsrr service with no running task still exists: NODATA, not NXDOMAIN.
          if (!names.has(name.toLowerCase())) names.set(name.toLowerCase(), { addrs: [], ttl: ttl.task, rotate: false });
          if (!names.has(`tasks.${name}`.toLowerCase())) names.set(`tasks.${name}`.toLowerCase(), { addrs: [], ttl: ttl.task, rotate: false });
        }
      }
    }
    for (const t of plan.tasks) {
      for (const a of t.attachments) {
        this.taskScopes.set(a.addr, [a.networkId, ...t.attachments.map((x) => x.networkId).filter((id) => id !== a.networkId)]);
      }
    }
  }

  /** The networks whose names a query from `source` sees: its task's, else the subnet's, else the gateway's. */
  scopeOf(source: string, gatewayNetworkId: string | null): string[] {
    const t = this.taskScopes.get(source);
    if (t) return t;
    const ip = ipInt(source);
    for (const [id, n] of this.nets) if (((ip & n.cidr.mask) >>> 0) === n.cidr.base) return [id];
    return gatewayNetworkId ? [gatewayNetworkId] : [];
  }

  isInternal(networkId: string): boolean {
    return this.nets.get(networkId)?.internal ?? false;
  }

  lookup(qname: string, scope: string[]): Lookup {
    let name = qname.toLowerCase().replace(/\.$/, '');
    let underDomain = false;
    const suffix = `.${this.domain}`;
    if (this.domain && name.endsWith(suffix)) {
      name = name.slice(0, -suffix.length);
      underDomain = true;
    }
    for (const id of scope) {
      const n = this.nets.get(id);
      if (!n) continue;
      let e = n.names.get(name);
      if (!e && name.endsWith(`.${n.name}`)) e = n.names.get(name.slice(0, -(n.name.length + 1)));
      if (e) return { found: true, entry: this.order(e) };
    }
    return { found: false, underDomain };
  }

  private order(e: Entry): Entry {
    if (!e.rotate || e.addrs.length < 2) return e;
    const k = this.rr++ % e.addrs.length;
    return { ...e, addrs: [...e.addrs.slice(k), ...e.addrs.slice(0, k)] };
  }
}
