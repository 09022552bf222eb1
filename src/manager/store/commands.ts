import { Packr, Unpackr } from '../../util/msgpack.js';
import type { Cluster, Config, Network, Node, Secret, Service, ServiceSpec, Task, TaskOrchestration, TaskState, TaskStatus, UpdateStatus } from '../../model/index.js';

/**
 * What managers propose through Raft: a transaction of store operations,
 * applied all-or-nothing by every manager in log order. Everything
 * non-deterministic (IDs, the clock) is decided by the proposer and carried
 * in the command, so apply is a pure function of the log.
 */

export type Kind = 'cluster' | 'node' | 'service' | 'task' | 'network' | 'secret' | 'config';
export const KINDS: readonly Kind[] = ['cluster', 'node', 'service', 'task', 'network', 'secret', 'config'];

export interface ObjectOf {
  cluster: Cluster;
  node: Node;
  service: Service;
  task: Task;
  network: Network;
  secret: Secret;
  config: Config;
}
export type AnyObject = ObjectOf[Kind];

/** An object as proposed: the store fills in Version and timestamps. */
export type Draft<T> = T extends unknown ? Omit<T, 'Version' | 'CreatedAt' | 'UpdatedAt'> & Partial<Pick<T & { Version: unknown; CreatedAt: string; UpdatedAt: string }, 'Version' | 'CreatedAt' | 'UpdatedAt'>> : never;

export type StoreOp =
  | { op: 'create'; kind: Kind; object: Draft<AnyObject> }
  /** Replaces the whole object. `expect` = the Version.Index the proposer read (optimistic concurrency). */
  | { op: 'update'; kind: Kind; object: Draft<AnyObject>; expect?: number }
  /** `ifExists`: a missing object is skipped instead of failing the transaction. */
  | { op: 'delete'; kind: Kind; id: string; expect?: number; ifExists?: boolean }
  /**
   * A task progress report or assignment, merged field by field. Status
   * only moves forward (a late report of an earlier state is skipped, not an
   * error), so batched reports from agents can be applied in any order.
   */
  | { op: 'patchTask'; id: string; status?: TaskStatus; desiredState?: TaskState; nodeId?: string; orchestration?: Partial<TaskOrchestration> }
  /**
   * The orchestrator's service bookkeeping (update progress, rollback). It
   * lands only if the service is still at `ifVersion`, and is otherwise
   * skipped (not an error): a user's newer spec wins, and the orchestrator
   * decides again on the new state.
   */
  | { op: 'patchService'; id: string; ifVersion: number; updateStatus?: UpdateStatus; spec?: ServiceSpec; previousSpec?: ServiceSpec | null }
  /** A small linearizable key/value space, for clients and the chaos harness. */
  | { op: 'kvPut'; key: string; value: string }
  | { op: 'kvAppend'; key: string; value: string }
  | { op: 'kvCas'; key: string; from: string | null; to: string };

export interface Txn {
  /** Proposer's wall clock, RFC 3339: becomes CreatedAt/UpdatedAt. */
  time: string;
  ops: StoreOp[];
}

export interface Change {
  kind: Kind;
  action: 'create' | 'update' | 'delete';
  id: string;
  /** The object after the change (before it, for a delete). */
  object: AnyObject;
}

export type TxnResult =
  | { ok: true; index: number; changes: Change[]; kv?: (string | null)[] }
  | { ok: false; index: number; code: string; message: string; field?: string };

const packr = new Packr({ useRecords: true });
const unpackr = new Unpackr({ useRecords: true, moreTypes: false, structuredClone: false });

export function encodeTxn(t: Txn): Uint8Array {
  return packr.pack(t);
}

export function decodeTxn(b: Uint8Array): Txn {
  return unpackr.unpack(b) as Txn;
}
