/**
 * The Linux kernel half of a node's data plane: bridges, VXLAN devices,
 * neighbour and FDB entries, task namespaces and veths (through `ip` and
 * `bridge` batches), sysctls, and the nftables table (one atomic
 * transaction). It runs in the network namespace of the node process — the
 * host's own on a real machine, a "host" namespace in tests.
 *
 * Applies are serialised; each one reads the kernel again and emits only
 * the difference (reconcile.ts), so it converges from any state: a fresh
 * boot, a crash half-way through the last apply, or a restart over running
 * tasks (then nothing changes and nothing is disrupted).
 */
import { readFile, writeFile } from 'node:fs/promises';
import type { DataPlane, NodePlan } from '../interface.js';
import { DataPlaneError } from './errors.js';
import { DataPlaneMetrics } from './metrics.js';
import { renderDelete, renderRuleset } from './nft.js';
import { NftSession } from './nft-session.js';
import { isOwnedLink, OWNED_LINK } from './names.js';
import { observe, type Observed } from './observe.js';
import type { KernelDataPlaneOptions } from './options.js';
import { OwnershipRecord } from './record.js';
import { reconcile, VXLAN_OVERHEAD } from './reconcile.js';
import { type CommandRunner, ExecRunner } from './runner.js';
import { validatePlan } from './validate.js';
import { monotonicMs } from '../../util/monotonic.js';

/** Everything of a plan that becomes links, addresses, neighbours, FDB entries or namespaces (not rules). */
export function kernelKey(plan: NodePlan): string {
  return JSON.stringify([
    plan.underlayAddr,
    plan.networks,
    plan.tasks.map((t) => [t.netns, t.attachments.map((a) => [a.networkId, a.addr, a.mac])]),
    plan.remotes,
    plan.services.map((s) => s.vips),
  ]);
}

export class KernelDataPlane implements DataPlane {
  readonly metrics = new DataPlaneMetrics();
  private readonly runner: CommandRunner;
  private readonly record: OwnershipRecord;
  private readonly procSys: string;
  private queue: Promise<unknown> = Promise.resolve();
  private stopped = false;
  /** What the kernel objects of the last fully successful apply were made from (kernelKey), and when the kernel was last read. */
  private lastKernel: { key: string; mtu: number; at: number } | null = null;
  private session: NftSession | null = null;

  constructor(private readonly opts: KernelDataPlaneOptions = {}) {
    this.runner = opts.runner ?? new ExecRunner();
    this.record = new OwnershipRecord(opts.recordPath ?? null);
    this.procSys = opts.procSys ?? '/proc/sys';
  }

  apply(plan: NodePlan): Promise<void> {
    return this.serial(() => this.applyNow(plan));
  }

  teardown(): Promise<void> {
    return this.serial(() => this.teardownNow());
  }

  private serial<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f, f);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private spawns(): number {
    return (this.runner instanceof ExecRunner ? this.runner.spawns : 0) + (this.session?.starts ?? 0);
  }

  /** The ruleset through the long-lived session when there is one, else (or when it broke) one `nft -f -`. */
  private async nft(text: string, failures: string[]): Promise<void> {
    if (this.runner instanceof ExecRunner && this.opts.nftSession !== false) {
      try {
        this.session ??= new NftSession(await this.runner.which('nft'));
        const errors = await this.session.run(text);
        if (errors) failures.push(`nft: ${errors.split('\n').slice(0, 20).join(' | ')}`);
        return;
      } catch {
        this.session?.close();
        this.session = null;
      }
    }
    await this.batch('nft', ['-f', '-'], [text], failures);
  }

  private async applyNow(plan: NodePlan): Promise<void> {
    if (this.stopped) throw new DataPlaneError('STOPPED', 'apply after teardown');
    const t0 = performance.now();
    const s0 = this.spawns();
    this.metrics.applies++;
    const failures: string[] = [];
    try {
      validatePlan(plan);
      // Rules first: they name links and addresses but need none of them to
      // exist, and a removed backend stops receiving new connections as soon
      // as this transaction commits — before its veth goes (draining order).
      // Nothing served: no table at all (a node that left every network keeps no rules; nothing is on the clock then).
      await this.nft(plan.networks.length === 0 ? renderDelete() : renderRuleset(plan), failures);
      this.metrics.lastNftMs = performance.now() - t0;
      // Fast path: when only rules changed (backends, ports) and the kernel was
      // read recently, the links, addresses and tables are what the last apply
      // left — skip reading them back. A backend removal is then one spawn.
      const last = this.lastKernel;
      const key = kernelKey(plan);
      if (failures.length === 0 && last && last.key === key && monotonicMs() - last.at < (this.opts.resyncMs ?? 30_000)) {
        this.metrics.fastApplies++;
        this.metrics.lastApplyCommands = 0;
        this.metrics.lastApplyMs = performance.now() - t0;
        this.metrics.lastError = null;
        return;
      }
      this.lastKernel = null;
      const seen = await observe(this.runner);
      const mtu = this.mtuFor(plan, seen);
      const r = reconcile(plan, seen, { mtu, ownedNetns: this.record.ownedNetns });
      // Own the new namespaces before creating them: a crash in between must not orphan one.
      this.record.setNetns(new Set([...this.record.ownedNetns, ...r.ownedNetns]));
      await this.sysctl('net/ipv4/ip_forward', '1', failures);
      if (r.ip.length) await this.batch('ip', ['-force', '-batch', '-'], r.ip, failures);
      if (r.bridge.length) await this.batch('bridge', ['-force', '-batch', '-'], r.bridge, failures);
      for (const tb of r.tasks) {
        const before = failures.length;
        await this.batch('ip', ['-n', tb.netns, '-force', '-batch', '-'], tb.lines, failures);
        if (failures.length > before && tb.hostVeths.length) {
          // Half-made attachments go: the next apply makes them again from scratch.
          await this.batch('ip', ['-force', '-batch', '-'], tb.hostVeths.map((v) => `link del dev ${v}`), []);
        }
      }
      for (const br of r.bridges) await this.sysctl(`net/ipv4/conf/${br}/route_localnet`, '1', failures);
      this.record.setNetns(r.ownedNetns);
      this.metrics.lastApplyCommands = r.ip.length + r.bridge.length + r.tasks.reduce((n, t) => n + t.lines.length, 0);
      if (failures.length) throw new DataPlaneError('COMMAND_FAILED', failures.join('; ').slice(0, 4000));
      // A runtime's namespace still to come: the next apply (the runtime asks for one) must look again.
      this.lastKernel = r.pendingNetns === 0 ? { key, mtu, at: monotonicMs() } : null;
      this.metrics.lastApplyMs = performance.now() - t0;
      this.metrics.lastError = null;
    } catch (e) {
      this.metrics.applyFailures++;
      this.metrics.lastError = e instanceof Error ? e.message : String(e);
      throw e instanceof DataPlaneError ? e : new DataPlaneError('COMMAND_FAILED', this.metrics.lastError, e);
    } finally {
      this.metrics.lastApplySpawns = this.spawns() - s0;
    }
  }

  private async teardownNow(): Promise<void> {
    this.stopped = true;
    this.lastKernel = null;
    const failures: string[] = [];
    const seen = await observe(this.runner);
    const lines: string[] = [];
    // veths first (their tasks' ends go with them), then VXLAN devices, then bridges.
    for (const re of [OWNED_LINK.veth, OWNED_LINK.vxlan, OWNED_LINK.bridge]) for (const name of seen.links.keys()) if (isOwnedLink(name) && re.test(name)) lines.push(`link del dev ${name}`);
    for (const ns of this.record.ownedNetns) if (seen.netns.has(ns)) lines.push(`netns del ${ns}`);
    if (lines.length) await this.batch('ip', ['-force', '-batch', '-'], lines, failures);
    this.session?.close();
    this.session = null;
    await this.batch('nft', ['-f', '-'], [renderDelete()], failures);
    this.record.setNetns(new Set());
    if (failures.length) throw new DataPlaneError('COMMAND_FAILED', failures.join('; ').slice(0, 4000));
  }

  /** Underlay MTU − VXLAN overhead; the underlay's from the link that holds underlayAddr unless given. */
  private mtuFor(plan: NodePlan, seen: Observed): number {
    const under = this.opts.underlayMtu ?? seen.allLinks.find((l) => l.addrs.some((a) => a.split('/')[0] === plan.underlayAddr))?.mtu ?? 1500;
    return Math.max(576, under - VXLAN_OVERHEAD);
  }

  private async batch(tool: 'ip' | 'bridge' | 'nft', args: string[], lines: string[], failures: string[]): Promise<void> {
    const r = await this.runner.run(tool, args, lines.join('\n') + '\n');
    if (r.code !== 0) failures.push(`${tool} ${args.join(' ')}: ${r.stderr.trim().split('\n').slice(0, 20).join(' | ')}`);
  }

  private async sysctl(key: string, value: string, failures: string[]): Promise<void> {
    const file = `${this.procSys}/${key}`;
    try {
      if ((await readFile(file, 'utf8')).trim() === value) return;
      await writeFile(file, value);
    } catch (e) {
      failures.push(`sysctl ${key}=${value}: ${(e as Error).message}`);
    }
  }
}
