/**
 * --netns: every node in its own network namespace, linked to a bridge in
 * the host namespace by a veth pair (root only):
 *
 *   host: bridge shoalchaos<k> 10.214.<k>.254/24
 *          └─ veth sc<k>n<i> ══ eth0 10.214.<k>.<i> in netns shoal-c<k>-n<i>
 *
 * Nodes are started with `nsenter --net=/run/netns/…` (not `ip netns exec`,
 * which remounts /sys and hides the cgroup v1 mounts the task runtimes
 * need). Faults then act on real links instead of the chaos control channel:
 *  - isolate: the node's veth goes down — everything is cut, TCP, UDP
 *    gossip, and the clients' HTTP too (a real partition cuts clients as well);
 *  - partitions between groups (minority/majority, one-way): nftables rules
 *    in each sender's namespace drop packets to the other side's addresses
 *    (one-way blocks drop only what the blocked side sends).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { ChaosError } from './errors.js';

const run = promisify(execFile);

export class NetnsLab {
  readonly bridge: string;

  constructor(
    /** 0..255: the third octet of 10.214.k.0/24 and part of every name. */
    readonly k: number,
    private readonly log: (m: string) => void,
  ) {
    this.bridge = `shoalchaos${k}`;
  }

  static unavailable(): string | null {
    if (process.platform !== 'linux') return '--netns needs Linux';
    if (process.getuid?.() !== 0) return '--netns needs root (it creates network namespaces, veth pairs and a bridge)';
    for (const bin of ['/usr/sbin/ip', '/usr/bin/nsenter', '/usr/sbin/nft']) {
      if (!existsSync(bin) && !existsSync(bin.replace('/usr', ''))) return `--netns needs ${bin.split('/').pop()} (iproute2, util-linux, nftables)`;
    }
    return null;
  }

  ns(i: number): string {
    return `shoal-c${this.k}-n${i}`;
  }

  private veth(i: number): string {
    return `sc${this.k}n${i}`;
  }

  host(i: number): string {
    return `10.214.${this.k}.${i}`;
  }

  /** The command prefix that runs a process in node i's namespace. */
  wrap(i: number): string[] {
    return ['nsenter', `--net=/run/netns/${this.ns(i)}`, '--'];
  }

  async setup(count: number): Promise<void> {
    const why = NetnsLab.unavailable();
    if (why) throw new ChaosError('NOT_ROOT', why);
    await this.teardown(count); // leftovers of an interrupted run with the same k
    await ip('link', 'add', this.bridge, 'type', 'bridge');
    await ip('addr', 'add', `10.214.${this.k}.254/24`, 'dev', this.bridge);
    await ip('link', 'set', this.bridge, 'up');
    for (let i = 1; i <= count; i++) {
      const ns = this.ns(i);
      await ip('netns', 'add', ns);
      await ip('link', 'add', this.veth(i), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ip('link', 'set', this.veth(i), 'master', this.bridge, 'up');
      await ip('-n', ns, 'addr', 'add', `${this.host(i)}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    this.count = count;
    this.log(`netns: ${count} namespaces on bridge ${this.bridge} (10.214.${this.k}.0/24)`);
  }

  private count = 0;

  async linkDown(i: number): Promise<void> {
    await ip('link', 'set', this.veth(i), 'down');
  }

  /**
   * Replaces all partitions: for each block, node `from` drops every packet
   * it would send to a node of `to` (one-way; give both directions for a
   * symmetric cut). Links that were down come back up.
   */
  async block(blocks: { from: number[]; to: number[] }[]): Promise<void> {
    const drops = new Map<number, Set<number>>();
    for (const b of blocks) for (const f of b.from) for (const t of b.to) if (f !== t) (drops.get(f) ?? drops.set(f, new Set()).get(f)!).add(t);
    for (let i = 1; i <= this.count; i++) {
      await ip('link', 'set', this.veth(i), 'up');
      const to = [...(drops.get(i) ?? [])].map((t) => this.host(t));
      const rules = [
        'table inet shoalchaos',
        'delete table inet shoalchaos',
        'table inet shoalchaos {',
        '  chain out {',
        '    type filter hook output priority 0; policy accept;',
        ...(to.length ? [`    ip daddr { ${to.join(', ')} } drop`] : []),
        '  }',
        '}',
      ].join('\n');
      await nft(this.ns(i), rules);
    }
  }

  async heal(): Promise<void> {
    await this.block([]);
  }

  /** Removes the namespaces (their veths go with them) and the bridge; ignores what is already gone. */
  async teardown(count = this.count): Promise<void> {
    for (let i = 1; i <= Math.max(count, 1); i++) await ip('netns', 'del', this.ns(i)).catch(() => {});
    await ip('link', 'del', this.bridge).catch(() => {});
  }
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    throw new ChaosError('SETUP', `ip ${args.join(' ')}: ${((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
  }
}

function nft(ns: string, script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = execFile('nsenter', [`--net=/run/netns/${ns}`, '--', 'nft', '-f', '-'], (err, _out, stderr) =>
      err ? reject(new ChaosError('SETUP', `nft in ${ns}: ${String(stderr).trim() || err.message}`)) : resolve(),
    );
    p.stdin!.end(script + '\n');
  });
}
