/**
 * What the control API (and the CLI behind it) may ask of a manager. The API
 * layer depends on this contract only, so it is tested against an
 * in-process store, and the manager process implements it over Raft.
 */
import type { StoreOp, TxnResult } from './store/commands.js';
import type { Store } from './store/store.js';
import type { Task } from '../model/index.js';
import type { LogRequest, NodeLogPump, TaskLogLine } from './logs.js';
import type { NodeLogQuery } from '../protocol/logs.js';
import type { DataKey } from './secrets/data-key.js';

export interface ManagerPeer {
  nodeId: string;
  /** Cluster address, host:port. */
  addr: string;
}

export interface ManagerStatusInfo {
  nodeId: string;
  /** This node's cluster address (host:port); `/info` shows the host part as NodeAddr. */
  addr: string;
  isLeader: boolean;
  leaderId: string | null;
  /** Managers in the Raft configuration (voters and learners), with reachability as this node sees it. */
  managers: (ManagerPeer & { reachable: boolean; voter: boolean })[];
  raft: { term: number; commit: number; applied: number };
}

export interface ManagerContext {
  /** The replicated desired state (read locally; call readBarrier() first for a linearizable read). */
  readonly store: Store;
  /** A linearizable read barrier (Raft ReadIndex). Rejects with a 503-worthy error when there is no leader. */
  readBarrier(): Promise<void>;
  /**
   * Proposes one transaction through Raft (followers forward it to the
   * leader) and resolves once it is committed by a quorum and applied here.
   * Rejects (503-worthy) when there is no leader or the outcome is unknown.
   */
  commit(ops: StoreOp[]): Promise<TxnResult>;
  /** A new object ID (25 lowercase base36 characters, like Docker's). */
  newId(): string;
  /** The proposer's clock for timestamps, RFC 3339. */
  now(): string;
  status(): ManagerStatusInfo;
  /** Raft membership changes, carried out by the leader. */
  promote(nodeId: string): Promise<void>;
  demote(nodeId: string): Promise<void>;
  /** Removes a node from the cluster (and from Raft if it is a manager). */
  removeNode(nodeId: string, force: boolean): Promise<void>;
  /** Streams task logs from the nodes that ran them (absent in contexts without a cluster transport). */
  taskLogs?(tasks: Task[], req: LogRequest, onLine: (l: TaskLogLine) => void, signal: AbortSignal): Promise<void>;
  /**
   * Opens a node's own log (`shoal node logs`): rejects at once when the
   * node cannot be reached, else resolves to a pump that sends the matching
   * records, one JSON line each, until done or `signal` aborts.
   */
  nodeLogs?(nodeId: string, q: NodeLogQuery, signal: AbortSignal): Promise<NodeLogPump>;
  /**
   * The cluster data key that seals secret and config data (null or absent:
   * this manager has none, e.g. a data dir from before secrets existed; the
   * secret and config endpoints then answer 503).
   */
  dataKey?(): DataKey | null;
}
