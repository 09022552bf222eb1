/**
 * The network-namespace layout of `shoal up` (root only): every node a
 * machine of its own, linked to a bridge in the host namespace by a veth:
 *
 *   host: bridge shup-A-B  10.A.B.254/24
 *          └─ veth suA-B-I ══ eth0 10.A.B.(11…|21…) in netns shoal-up-A-B-NODE
 *
 * The host owns .254, so the CLI, browsers and curl on the host reach every
 * node's API and published ports directly (no forwarding). Nodes are started
 * with `nsenter --net=/run/netns/…` — `ip netns exec` remounts /sys and hides
 * the cgroup v1 mounts the task runtimes need. Everything made here is named
 * in the cluster file first, so `shoal down` removes it also after a crash;
 * making and removing are idempotent. All names are checked before they
 * reach a command, and commands run with execFile (no shell).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { CliError } from '../errors.js';
import { NETNS_RECORD_FILE, OwnershipRecord } from '../../overlay-net/dataplane/record.js';
import type { LocalCluster, LocalNode, NetnsLayout } from './cluster-file.js';
export type { NetnsLayout } from './cluster-file.js';

const run = promisify(execFile);

/** What a cluster in the netns layout records (cluster.json `netns`). */

/** The second octet `shoal up` picks its /24s from (10.218.0.0/16): clear of the overlay's first /24s and the test labs' 10.213/10.214. */
export const AUTO_SECOND_OCTET = 218;

const TOOLS = ['ip', 'nft', 'nsenter'] as const;
const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const IFNAME = /^[a-z][a-z0-9-]{0,14}$/;
const PREFIX = /^10\.(\d{1,3})\.(\d{1,3})$/;

function findTool(bin: string): string | null {
  for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin', '/usr/local/sbin', '/usr/local/bin']) if (existsSync(`${d}/${bin}`)) return `${d}/${bin}`;
  return null;
}

/** Why this machine cannot have the netns layout, or null when it can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'it needs Linux';
  if (process.getuid?.() !== 0) return 'it needs root: it creates network namespaces, veth pairs and a bridge';
  const missing = TOOLS.filter((t) => !findTool(t));
  if (missing.length > 0) return `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not installed (iproute2, nftables, util-linux)`;
  return null;
}

export function validPrefix(prefix: string): [number, number] | null {
  const m = PREFIX.exec(prefix);
  if (!m) return null;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a <= 255 && b <= 255 ? [a, b] : null;
}

export function layoutFor(prefix: string): NetnsLayout {
  const ab = validPrefix(prefix);
  if (!ab) throw new CliError(`${JSON.stringify(prefix)} is not a 10.a.b prefix`);
  return { prefix, bridge: `shup-${ab[0]}-${ab[1]}` };
}

/** The namespace and host-side veth of node `n` (index i in the cluster, from 1). */
export function nodeNetnsNames(layout: NetnsLayout, n: Pick<LocalNode, 'name'>, i: number): { netns: string; veth: string } {
  const [a, b] = validPrefix(layout.prefix)!;
  return { netns: `shoal-up-${a}-${b}-${n.name}`, veth: `su${a}-${b}-${i}` };
}

/** The command prefix that runs a node in its namespace. */
export function nsenterWrap(n: LocalNode): string[] {
  return ['nsenter', `--net=/run/netns/${checkName(n.netns!, NAME)}`, '--'];
}

function checkName(v: string, re: RegExp): string {
  if (!re.test(v)) throw new CliError(`cluster.json names ${JSON.stringify(v)}, not a name shoal makes: fix or remove the cluster file`);
  return v;
}

async function ip(...args: string[]): Promise<string> {
  try {
    return (await run('ip', args, { timeout: 10_000 })).stdout;
  } catch (err) {
    throw new CliError(`ip ${args.join(' ')} failed: ${(((err as { stderr?: string }).stderr ?? '') || (err as Error).message).trim().split('\n')[0]}`);
  }
}

/** IPv4 prefixes this host already routes or holds (default routes aside). */
async function usedNets(): Promise<{ base: number; bits: number }[]> {
  const text = (await ip('-4', '-o', 'route', 'show', 'table', 'all')) + (await ip('-4', '-o', 'addr', 'show'));
  const nets: { base: number; bits: number }[] = [];
  for (const m of text.matchAll(/(?:^|\s)(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?(?=\s)/g)) {
    const bits = m[2] === undefined ? 32 : Number(m[2]);
    if (bits === 0) continue;
    nets.push({ base: toInt(m[1]!), bits });
  }
  return nets;
}

function toInt(a: string): number {
  return a.split('.').reduce((x, o) => x * 256 + Number(o), 0);
}

function overlaps(prefix: string, nets: { base: number; bits: number }[]): boolean {
  const base = toInt(`${prefix}.0`);
  return nets.some((n) => {
    const bits = Math.min(24, n.bits);
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return ((base & mask) >>> 0) === ((n.base & mask) >>> 0);
  });
}

/** True when nothing on this host routes or holds an address in prefix.0/24. */
export async function prefixFree(prefix: string): Promise<boolean> {
  return !overlaps(prefix, await usedNets());
}

/** A free 10.218.x /24 for a cluster dir: the dir's hash picks where to start, the host's routes decide. */
export async function pickPrefix(dir: string): Promise<string> {
  const nets = await usedNets();
  const links = await ip('-o', 'link', 'show');
  let h = 0;
  for (const ch of dir) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  for (let j = 0; j < 254; j++) {
    const p = `10.${AUTO_SECOND_OCTET}.${(h + j) % 254}`;
    if (!overlaps(p, nets) && !links.includes(` ${layoutFor(p).bridge}:`)) return p;
  }
  throw new CliError(`every 10.${AUTO_SECOND_OCTET}.x.0/24 is in use on this host: pick one with --ip-prefix 10.a.b, or use --no-netns`);
}

/** The node's address without the port. */
function hostOf(n: LocalNode): string {
  return n.addr.slice(0, n.addr.lastIndexOf(':'));
}

async function linkExists(name: string, ns?: string): Promise<boolean> {
  return run('ip', [...(ns ? ['-n', ns] : []), 'link', 'show', 'dev', name], { timeout: 10_000 }).then(
    () => true,
    () => false,
  );
}

async function netnsList(): Promise<Set<string>> {
  return new Set((await ip('netns', 'list')).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean));
}

/**
 * Claims the layout for a new cluster: makes its bridge, failing when the
 * name exists — another cluster took the same /24 a moment ago (`ip link
 * add` is atomic, so two `shoal up`s never share one).
 */
export async function claimBridge(l: NetnsLayout): Promise<void> {
  const bridge = checkName(l.bridge, IFNAME);
  try {
    await run('ip', ['link', 'add', bridge, 'type', 'bridge'], { timeout: 10_000 });
  } catch (err) {
    const why = (((err as { stderr?: string }).stderr ?? '') || (err as Error).message).trim().split('\n')[0];
    throw new CliError(`cannot make bridge ${bridge} for ${l.prefix}.0/24 (${why}): another cluster uses it; pick another --ip-prefix, or run \`shoal up\` again`);
  }
}

/**
 * Makes whatever of the layout is missing: the bridge with the host's .254,
 * each node's namespace, veth and address. Nodes must carry their names
 * (recorded in the cluster file before this runs).
 */
export async function ensureNetns(c: LocalCluster): Promise<void> {
  const l = c.netns!;
  const bridge = checkName(l.bridge, IFNAME);
  if (!validPrefix(l.prefix)) throw new CliError(`cluster.json names the prefix ${JSON.stringify(l.prefix)}, not a 10.a.b prefix: fix or remove the cluster file`);
  if (!(await linkExists(bridge))) await ip('link', 'add', bridge, 'type', 'bridge');
  const hostAddr = `${l.prefix}.254/24`;
  if (!(await ip('-4', '-o', 'addr', 'show', 'dev', bridge)).includes(` ${hostAddr} `)) await ip('addr', 'replace', hostAddr, 'dev', bridge);
  await ip('link', 'set', bridge, 'up');
  const have = await netnsList();
  for (const n of c.nodes) {
    const ns = checkName(n.netns!, NAME);
    const veth = checkName(n.veth!, IFNAME);
    if (!have.has(ns)) await ip('netns', 'add', ns);
    if (!(await linkExists('eth0', ns))) {
      if (await linkExists(veth)) await ip('link', 'del', veth); // its peer went with an old namespace
      await ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    }
    await ip('link', 'set', veth, 'master', bridge, 'up');
    await ip('-n', ns, 'addr', 'replace', `${hostOf(n)}/24`, 'dev', 'eth0');
    await ip('-n', ns, 'link', 'set', 'eth0', 'up');
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
}

/**
 * Removes the nodes' veths and namespaces and the bridge; what is already
 * gone is skipped. Returns what was removed. The nodes' own kernel state
 * (overlay bridges, VXLAN, nftables tables) lives inside their namespaces
 * and goes with them.
 */
export async function removeNetns(c: LocalCluster, nodes: LocalNode[] = c.nodes, withBridge = true): Promise<string[]> {
  const l = c.netns!;
  const removed: string[] = [];
  const have = await netnsList();
  for (const n of nodes) {
    if (!n.netns || !n.veth) continue;
    const veth = checkName(n.veth, IFNAME);
    const ns = checkName(n.netns, NAME);
    // Deleting one end of a veth deletes both, also when a process still holds the namespace.
    if (await linkExists(veth)) {
      await ip('link', 'del', veth);
      removed.push(`veth ${veth}`);
    }
    if (have.has(ns)) {
      await ip('netns', 'del', ns);
      removed.push(`namespace ${ns}`);
    }
  }
  const bridge = checkName(l.bridge, IFNAME);
  if (withBridge && (await linkExists(bridge))) {
    await ip('link', 'del', bridge);
    removed.push(`bridge ${bridge}`);
  }
  return removed;
}

/**
 * The task namespaces the nodes' data planes made (each node's durable
 * record in its data dir, written before a namespace is created). They live
 * in the host's /run/netns, not inside a node's namespace, so they outlive a
 * node that crashed, and a node that never runs again cannot remove them.
 * Run once the nodes are stopped; returns what was removed.
 */
export async function removeTaskNetns(nodeDataDirs: string[]): Promise<string[]> {
  const have = await netnsList();
  const removed: string[] = [];
  for (const dir of nodeDataDirs) {
    for (const ns of new OwnershipRecord(path.join(dir, NETNS_RECORD_FILE)).ownedNetns) {
      if (!have.has(ns)) continue;
      await ip('netns', 'del', checkName(ns, NAME));
      removed.push(`task namespace ${ns}`);
    }
  }
  return removed;
}

/**
 * Pids of the processes still in a node's namespace once the node itself
 * is stopped: what a crashed node left running (its task supervisor).
 */
export async function netnsPids(n: LocalNode): Promise<number[]> {
  if (!n.netns) return [];
  const ns = checkName(n.netns, NAME);
  if (!(await netnsList()).has(ns)) return [];
  return (await ip('netns', 'pids', ns))
    .split('\n')
    .filter((l) => /^\d+$/.test(l.trim()))
    .map(Number)
    .filter((pid) => pid !== process.pid);
}
