import { LeaseRenew } from '../../protocol/lease.js';
import { systemTimers, type TimerHandle, type Timers } from '../../util/timers.js';
import type { Connection, Transport } from '../../wire/interface.js';
import { PeerLink } from '../../wire/peer-link.js';
import { NodeLease } from './lease.js';
import type { Rng } from '../../util/rng.js';

export interface LeaseKeeperOptions {
  transport: Transport;
  nodeId: string;
  managers: string[];
  renewEveryMs: number;
  /** Whether the supervisor holds tasks now (said with each renewal; a sole manager marks only such grants). */
  holdsTasks?(): boolean;
  /** A renewal was granted (the lease may have grown). */
  onGrant?(lease: NodeLease): void;
  /** The monotonic clock grants are dated by, and the renewal timer (default: the machine's); a simulation passes its own. */
  timers?: Timers;
  /** Jitter of the links' reconnect back-off (default: the machine's randomness); a simulation passes a seeded one. */
  rng?: Rng;
}

/**
 * Renews a node's fencing lease with every manager it knows, every period
 * and as soon as a connection to one comes up (manager/lease/core.ts has the
 * protocol). What to do when the lease runs out is the owner's business: the
 * supervisor's lease thread ends the supervisor.
 */
export class LeaseKeeper {
  readonly lease = new NodeLease();
  private readonly links = new Map<string, PeerLink>();
  private readonly timer: TimerHandle;
  private readonly timers: Timers;

  constructor(private readonly opts: LeaseKeeperOptions) {
    this.timers = opts.timers ?? systemTimers;
    this.setManagers(opts.managers);
    this.timer = this.timers.setInterval(() => {
      for (const l of this.links.values()) {
        const c = l.connection;
        if (c) this.renew(c);
      }
    }, opts.renewEveryMs);
  }

  setManagers(addrs: string[]): void {
    for (const [a, l] of this.links) {
      if (!addrs.includes(a)) {
        l.close();
        this.links.delete(a);
      }
    }
    for (const a of addrs) {
      if (this.links.has(a)) continue;
      const l = new PeerLink(this.opts.transport, a, { connectTimeoutMs: this.opts.renewEveryMs * 5, backoff: { maxMs: this.opts.renewEveryMs * 2 }, timers: this.timers, ...(this.opts.rng ? { rng: this.opts.rng } : {}) });
      // A fresh connection renews at once: a restarted supervisor must not wait a period for its first lease.
      l.onUp((c) => this.renew(c));
      this.links.set(a, l);
    }
  }

  private renew(c: Connection): void {
    const sentAt = this.timers.now();
    const tasks = this.opts.holdsTasks?.() ?? false;
    c.request(LeaseRenew, { nodeId: this.opts.nodeId, ...(tasks ? { tasks } : {}) }, { timeoutMs: this.opts.renewEveryMs * 2 }).then(
      (r) => {
        if (!r.granted) return;
        this.lease.granted(sentAt, r.fenceMs, r.soleManager === true ? { marginMs: r.marginMs ?? 0 } : null);
        this.opts.onGrant?.(this.lease);
      },
      () => {},
    );
  }

  stop(): void {
    this.timers.clear(this.timer);
    for (const l of this.links.values()) l.close();
    this.links.clear();
  }
}
