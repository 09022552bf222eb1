/**
 * The daemon's composition seam: what a test composition root may put
 * between the node's parts. The product passes none; the chaos harness
 * (its node hooks, installed by its own entry point, never by `shoal`)
 * uses them to inject faults — a fault-injecting transport,
 * a shifted wall clock, a broken build for its self-test — without a single
 * environment switch in the daemon.
 */
import type { ManagerContext } from '../manager/interface.js';
import type { SyncMode } from '../raft/storage.js';
import type { WsTransport } from '../wire/ws-transport.js';
import type { Logger } from '../util/log/interface.js';

export interface DaemonHooks {
  /** Called with the cluster transport before it listens (a FaultController installs itself here). */
  transport?(t: WsTransport): void;
  /** Filters gossip datagrams ('out' before sending, 'in' on receipt); false drops it. */
  gossipPacketFilter?: (dir: 'in' | 'out', addr: string) => boolean;
  /**
   * The wall clock (epoch ms) a manager stamps times with and hands the
   * orchestrator's decisions. Timers keep real time, as they would across an
   * NTP step. Default Date.now.
   */
  wallClock?: () => number;
  /** Runs before the manager opens its Raft storage. */
  beforeManager?(dataDir: string): Promise<void>;
  /** Raft storage's sync mode (default FULL: an acknowledgement depends on it). */
  raftSync?: SyncMode;
  /** Wraps the context the API serves. */
  apiContext?(ctx: ManagerContext): ManagerContext;
  /** The node is up: its parts exist and it serves. */
  started?(node: HookedNode): Promise<void>;
  /** The node is stopping. */
  stopping?(): void;
}

/** What a hook may see of a started node. */
export interface HookedNode {
  readonly nodeId: string;
  readonly role: 'manager' | 'worker';
  gossipMembers(): { id: string; addr: string }[];
  /** The manager's view, on managers. */
  raftStatus(): { isLeader: boolean; leaderId: string | null; term: number; commit: number; applied: number } | null;
  /** Hands leadership to `to` (managers only). */
  transferLeadership(to: string): Promise<void>;
}

/** Builds a node's hooks once its ID is known (before anything listens). */
export type DaemonHooksFactory = (nodeId: string, dataDir: string, log: Logger) => DaemonHooks;
