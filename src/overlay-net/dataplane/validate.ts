/**
 * Every value that ends up in an `ip`, `bridge` or `nft` command line passes
 * through here first. Commands are fed to the tools as batch text (one line
 * per command), so a name with a space, newline, quote or brace could inject
 * a second command: the checks are allow-lists, not escapes.
 */
import type { NodePlan } from '../interface.js';
import { DataPlaneError } from './errors.js';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
/** A netns name: it becomes a file under /run/netns and an `ip` argument. */
const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
/** Service, network and alias names as DNS labels (dots allowed between them). */
const DNS_NAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*$/;

export function isIPv4(s: unknown): s is string {
  return typeof s === 'string' && IPV4.test(s);
}

export function ipToInt(ip: string): number {
  const p = ip.split('.').map(Number);
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

export function intToIp(n: number): string {
  return [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  base: string;
  prefix: number;
}

export function parseCidr(s: unknown): Cidr | null {
  if (typeof s !== 'string') return null;
  const i = s.indexOf('/');
  if (i < 0) return null;
  const base = s.slice(0, i);
  const prefixText = s.slice(i + 1);
  if (!isIPv4(base) || !/^\d{1,2}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  if (prefix < 8 || prefix > 30) return null;
  return { base: intToIp(ipToInt(base) & maskOf(prefix)), prefix };
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function inCidr(ip: string, c: Cidr): boolean {
  return ((ipToInt(ip) & maskOf(c.prefix)) >>> 0) === ipToInt(c.base);
}

export function isMac(s: unknown): s is string {
  return typeof s === 'string' && MAC.test(s);
}

export function isNetnsName(s: unknown): s is string {
  return typeof s === 'string' && NETNS.test(s);
}

export function isDnsName(s: unknown): s is string {
  return typeof s === 'string' && s.length <= 253 && DNS_NAME.test(s);
}

/** VNIs are 24 bits; 0 is reserved. */
export function isVni(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 0xffffff;
}

export function isPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}

/**
 * Refuses the whole plan on the first bad field, naming it: half a plan would
 * leave the kernel in a state no plan describes.
 */
export function validatePlan(plan: NodePlan): void {
  const bad = (what: string, v: unknown): never => {
    throw new DataPlaneError('INVALID_PLAN', `${what}: ${JSON.stringify(v)}`);
  };
  if (!isIPv4(plan.underlayAddr)) bad('underlayAddr', plan.underlayAddr);
  const nets = new Map<string, Cidr>();
  const vnis = new Set<number>();
  for (const [i, n] of plan.networks.entries()) {
    const c = parseCidr(n.subnet);
    if (!c) bad(`networks[${i}].subnet`, n.subnet);
    if (!isVni(n.vni) || vnis.has(n.vni)) bad(`networks[${i}].vni`, n.vni);
    if (!isIPv4(n.gateway) || !inCidr(n.gateway, c!)) bad(`networks[${i}].gateway`, n.gateway);
    if (!isIPv4(n.nodeAddr) || !inCidr(n.nodeAddr, c!) || n.nodeAddr === n.gateway) bad(`networks[${i}].nodeAddr`, n.nodeAddr);
    if (!isDnsName(n.name)) bad(`networks[${i}].name`, n.name);
    if (typeof n.id !== 'string' || !n.id || nets.has(n.id)) bad(`networks[${i}].id`, n.id);
    vnis.add(n.vni);
    nets.set(n.id, c!);
  }
  const onNet = (what: string, networkId: string, addr: string) => {
    const c = nets.get(networkId);
    if (!c) bad(`${what}.networkId`, networkId);
    if (!isIPv4(addr) || !inCidr(addr, c!)) bad(`${what}.addr`, addr);
  };
  const netnsSeen = new Set<string>();
  for (const [i, task] of plan.tasks.entries()) {
    if (!isNetnsName(task.netns) || netnsSeen.has(task.netns)) bad(`tasks[${i}].netns`, task.netns);
    netnsSeen.add(task.netns);
    if (task.runtimeNetns !== undefined && typeof task.runtimeNetns !== 'boolean') bad(`tasks[${i}].runtimeNetns`, String(task.runtimeNetns));
    const seenNet = new Set<string>();
    for (const [j, a] of task.attachments.entries()) {
      onNet(`tasks[${i}].attachments[${j}]`, a.networkId, a.addr);
      if (seenNet.has(a.networkId)) bad(`tasks[${i}].attachments[${j}].networkId (twice)`, a.networkId);
      seenNet.add(a.networkId);
      if (!isMac(a.mac)) bad(`tasks[${i}].attachments[${j}].mac`, a.mac);
      for (const alias of a.aliases) if (!isDnsName(alias)) bad(`tasks[${i}].attachments[${j}].aliases`, alias);
    }
  }
  for (const [i, r] of plan.remotes.entries()) {
    onNet(`remotes[${i}]`, r.networkId, r.addr);
    if (!isMac(r.mac)) bad(`remotes[${i}].mac`, r.mac);
    if (!isIPv4(r.nodeUnderlay)) bad(`remotes[${i}].nodeUnderlay`, r.nodeUnderlay);
  }
  for (const [i, s] of plan.services.entries()) {
    if (!isDnsName(s.name)) bad(`services[${i}].name`, s.name);
    if (s.endpointMode !== 'vip' && s.endpointMode !== 'dnsrr') bad(`services[${i}].endpointMode`, s.endpointMode);
    if (!Array.isArray(s.aliases)) bad(`services[${i}].aliases`, s.aliases);
    for (const [j, a] of s.aliases.entries()) {
      if (!nets.has(a.networkId)) bad(`services[${i}].aliases[${j}].networkId`, a.networkId);
      for (const name of a.names) if (!isDnsName(name)) bad(`services[${i}].aliases[${j}].names`, name);
    }
    for (const [j, v] of s.vips.entries()) onNet(`services[${i}].vips[${j}]`, v.networkId, v.addr);
    for (const [j, b] of s.backends.entries()) {
      if (b.hostPorts === undefined) {
        onNet(`services[${i}].backends[${j}]`, b.networkId, b.addr);
        continue;
      }
      // A task in its node's own namespace: its node's underlay address, off the overlay.
      if (!nets.has(b.networkId)) bad(`services[${i}].backends[${j}].networkId`, b.networkId);
      if (!isIPv4(b.addr)) bad(`services[${i}].backends[${j}].addr`, b.addr);
      if (!Array.isArray(b.hostPorts) || b.hostPorts.length === 0) bad(`services[${i}].backends[${j}].hostPorts`, b.hostPorts);
      for (const [k, h] of b.hostPorts.entries()) {
        if (h.protocol !== 'tcp' && h.protocol !== 'udp') bad(`services[${i}].backends[${j}].hostPorts[${k}].protocol`, h.protocol);
        if (!isPort(h.targetPort)) bad(`services[${i}].backends[${j}].hostPorts[${k}].targetPort`, h.targetPort);
        if (!isPort(h.port)) bad(`services[${i}].backends[${j}].hostPorts[${k}].port`, h.port);
      }
    }
    for (const [j, p] of s.ports.entries()) {
      if (p.protocol !== 'tcp' && p.protocol !== 'udp') bad(`services[${i}].ports[${j}].protocol`, p.protocol);
      if (!isPort(p.targetPort)) bad(`services[${i}].ports[${j}].targetPort`, p.targetPort);
      if (!isPort(p.publishedPort)) bad(`services[${i}].ports[${j}].publishedPort`, p.publishedPort);
      if (p.mode !== 'ingress' && p.mode !== 'host') bad(`services[${i}].ports[${j}].mode`, p.mode);
    }
  }
}
