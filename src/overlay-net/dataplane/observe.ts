/**
 * What the kernel holds now, read in two process spawns: one `ip -j -d
 * -batch -` (links with their addresses and kind details, then permanent
 * neighbours) and one `bridge -j fdb show`. Only our objects matter (names
 * from names.ts); everything else is read and ignored, never touched.
 */
import { readdir } from 'node:fs/promises';
import { isOwnedLink } from './names.js';
import { type CommandRunner, runOrThrow } from './runner.js';

export interface ObservedLink {
  name: string;
  kind: string;
  master: string | null;
  mtu: number;
  mac: string;
  up: boolean;
  /** IPv4 addresses as "a.b.c.d/len". */
  addrs: string[];
  vxlan: { id: number; local: string; port: number; learning: boolean; proxy: boolean } | null;
  /** As a bridge port: whether frames may leave by the port they came in on. */
  hairpin: boolean;
}

export interface Observed {
  /** Our links by name. */
  links: Map<string, ObservedLink>;
  /** Every link's IPv4 addresses and MTU by name (to find the underlay's MTU). */
  allLinks: { name: string; mtu: number; addrs: string[] }[];
  /** Permanent neighbours on our devices: `${dev} ${ip}` → lladdr. */
  neigh: Map<string, string>;
  /** FDB `self` entries with a destination on our VXLAN devices: `${dev} ${mac}` → dst. */
  fdb: Map<string, string>;
  /** Names under /run/netns. */
  netns: Set<string>;
}

interface IpAddrJson {
  ifname: string;
  mtu: number;
  address?: string;
  master?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_data?: { id?: number; local?: string; port?: number; learning?: boolean; proxy?: boolean }; info_slave_data?: { hairpin?: boolean } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export async function listNetns(dir = '/run/netns'): Promise<Set<string>> {
  try {
    return new Set(await readdir(dir));
  } catch {
    return new Set();
  }
}

export async function observe(runner: CommandRunner): Promise<Observed> {
  const [ipOut, fdbOut, netns] = await Promise.all([
    runOrThrow(runner, 'ip', ['-j', '-d', '-batch', '-'], 'addr show\nneigh show nud permanent\n'),
    runOrThrow(runner, 'bridge', ['-j', 'fdb', 'show']),
    listNetns(),
  ]);
  const arrays = ipOut
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as unknown[]);
  const addrJson = (arrays[0] ?? []) as IpAddrJson[];
  const neighJson = (arrays[1] ?? []) as { dst: string; dev: string; lladdr?: string }[];
  const links = new Map<string, ObservedLink>();
  const allLinks: Observed['allLinks'] = [];
  for (const l of addrJson) {
    const addrs = (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
    allLinks.push({ name: l.ifname, mtu: l.mtu, addrs });
    if (!isOwnedLink(l.ifname)) continue;
    const d = l.linkinfo?.info_data;
    links.set(l.ifname, {
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? '',
      master: l.master ?? null,
      mtu: l.mtu,
      mac: (l.address ?? '').toLowerCase(),
      up: (l.flags ?? []).includes('UP'),
      addrs,
      hairpin: l.linkinfo?.info_slave_data?.hairpin === true,
      vxlan: l.linkinfo?.info_kind === 'vxlan' && d ? { id: d.id ?? 0, local: d.local ?? '', port: d.port ?? 0, learning: d.learning ?? true, proxy: d.proxy ?? false } : null,
    });
  }
  const neigh = new Map<string, string>();
  for (const n of neighJson) if (isOwnedLink(n.dev) && n.lladdr) neigh.set(`${n.dev} ${n.dst}`, n.lladdr.toLowerCase());
  const fdb = new Map<string, string>();
  for (const f of JSON.parse(fdbOut || '[]') as { mac: string; ifname: string; dst?: string; flags?: string[] }[]) {
    if (f.dst && (f.flags ?? []).includes('self') && isOwnedLink(f.ifname)) fdb.set(`${f.ifname} ${f.mac.toLowerCase()}`, f.dst);
  }
  return { links, allLinks, neigh, fdb, netns };
}
