/**
 * A node's whole data plane on Linux: the kernel half (dataplane/) and the
 * embedded resolver (dns/), which know nothing of each other. The resolver
 * is updated after the kernel: it binds the gateways the kernel just put on
 * the bridges. Errors are returned (apply rejects), never thrown past the
 * caller: the node daemon logs them and applies again at the next plan.
 *
 * Run it in the node process itself (it must own the network namespace it
 * programs — the host's on a real machine), as root.
 */
import type { DataPlane, NodePlan } from './interface.js';
import { isDataPlaneError } from './dataplane/errors.js';
import { KernelDataPlane } from './dataplane/kernel.js';
import { findTool } from './dataplane/runner.js';
import type { KernelDataPlaneOptions } from './dataplane/options.js';
import { EmbeddedResolver } from './dns/server.js';
import type { ResolverOptions } from './dns/options.js';

export interface LinuxDataPlaneOptions {
  kernel?: KernelDataPlaneOptions;
  /** false: no embedded resolver (tasks get the node's resolv.conf instead). */
  dns?: ResolverOptions | false;
}

export class LinuxDataPlane implements DataPlane {
  readonly kernel: KernelDataPlane;
  readonly resolver: EmbeddedResolver | null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(opts: LinuxDataPlaneOptions = {}) {
    this.kernel = new KernelDataPlane(opts.kernel);
    this.resolver = opts.dns === false ? null : new EmbeddedResolver(opts.dns);
  }

  /** Applies run one at a time, so the resolver never ends up on an older plan than the kernel. */
  apply(plan: NodePlan): Promise<void> {
    const next = this.queue.then(() => this.applyNow(plan));
    this.queue = next.catch(() => undefined);
    return next;
  }

  teardown(): Promise<void> {
    const next = this.queue.then(() => this.teardownNow());
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async applyNow(plan: NodePlan): Promise<void> {
    let kernelError: unknown = null;
    try {
      await this.kernel.apply(plan);
    } catch (e) {
      kernelError = e;
    }
    // Even after a partial kernel failure names of what did get built still
    // resolve; a plan refused as invalid changes nothing anywhere.
    if (!isDataPlaneError(kernelError, 'INVALID_PLAN')) await this.resolver?.update(plan);
    if (kernelError) throw kernelError;
  }

  private async teardownNow(): Promise<void> {
    await this.resolver?.stop();
    await this.kernel.teardown();
  }
}

/** Why this machine cannot run the Linux data plane, or null when it can. */
export async function linuxDataPlaneUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return `platform ${process.platform}`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root';
  for (const tool of ['ip', 'bridge', 'nft'] as const) if (!(await findTool(tool))) return `${tool} not installed`;
  return null;
}
