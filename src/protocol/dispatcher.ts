import { createHash } from 'node:crypto';
import type { NodePlan } from '../overlay-net/interface.js';
import { defineMessage } from '../wire/registry.js';
import { any, array, bool, bytes, object, oneOf, optional, record, str, tagged, uint, literal } from '../wire/schema.js';
import { TASK_STATES, type Node, type Task, type TaskStatus } from '../model/index.js';

/**
 * Dispatcher protocol between an agent (every node runs one) and the leader.
 *
 * - `dispatcher.session` — a stream the agent opens with its description.
 *   The leader answers with frames: `session` (id, heartbeat period, the
 *   managers to fail over to), then `assignments` (the full set first,
 *   increments after), and `node` when the agent's own Node object changes
 *   (role, availability). A follower resets the stream with NOT_LEADER and
 *   names the leader.
 * - `dispatcher.heartbeat` — every period; a node is down after 3 missed.
 * - `dispatcher.status` — task status reports; the reply comes only once
 *   they are committed, so an agent re-sends anything unacknowledged to the
 *   next leader and no report is lost in a failover.
 */

const id = str({ min: 1, max: 128 });
const addr = str({ max: 300 });

export const descriptionSchema = object({
  hostname: str({ max: 255 }),
  os: str({ max: 64 }),
  arch: str({ max: 64 }),
  nanoCpus: uint(),
  memoryBytes: uint(),
  labels: record(str({ max: 1024 }), { max: 256 }),
  runtimes: array(str({ max: 32 }), { max: 16 }),
  engineVersion: str({ max: 64 }),
  clusterAddr: addr,
  gossipAddr: addr,
  /** The images in the node's store (Node.Description.Images); updated by `images` frames. */
  images: optional(array(str({ min: 1, max: 512 }), { max: 4096 })),
});

export interface AgentDescription {
  hostname: string;
  os: string;
  arch: string;
  nanoCpus: number;
  memoryBytes: number;
  labels: Record<string, string>;
  runtimes: string[];
  engineVersion: string;
  clusterAddr: string;
  gossipAddr: string;
  images?: string[];
}

/** One secret's or config's data at most (the API's limit is 500 KiB). */
export const SECRET_ITEM_MAX_BYTES = 512 * 1024;

export const SessionOpen = defineMessage({
  name: 'dispatcher.session',
  version: 1,
  body: tagged('type', {
    open: object({ type: literal('open'), nodeId: id, description: descriptionSchema }),
    // Frames from the leader to the agent (validated loosely: the leader is trusted; the agent re-validates what it runs).
    session: object({ type: literal('session'), sessionId: id, heartbeatMs: uint(), fenceMs: optional(uint()), managers: array(object({ nodeId: id, addr }), { max: 64 }) }),
    assignments: object({ type: literal('assignments'), full: bool(), tasks: array(any()), removed: array(id) }),
    node: object({ type: literal('node'), node: any() }),
    // The cluster's gossip keys, primary first (sent on open and on every rotation; the session is mutual TLS).
    gossipKeys: object({ type: literal('gossipKeys'), keys: array(str({ min: 1, max: 64 }), { min: 1, max: 4 }) }),
    // The root certificates to trust (two during a CA rotation) and the root ID (manager/membership/ca-rotation.ts) that signs node certificates now.
    // The nodes removed from the cluster, which every node refuses (workers hold no store: manager/membership/deny-list.ts).
    denied: object({ type: literal('denied'), nodeIds: array(id, { max: 100_000 }) }),
    caTrust: object({ type: literal('caTrust'), roots: array(str({ min: 1, max: 8_192 }), { min: 1, max: 2 }), issuer: str({ min: 1, max: 16 }) }),
    // Secret and config data for the tasks of the assignments frame that follows, opened on the leader
    // (sent only to a node with an assigned task using it; the agent keeps it in memory and tmpfs only).
    secrets: object({ type: literal('secrets'), items: array(object({ kind: oneOf(['secret', 'config'] as const), id, data: bytes({ max: SECRET_ITEM_MAX_BYTES }) }), { max: 4096 }) }),
    // What the node's data plane must build (overlay-net/interface.ts NodePlan), whole, sent before the
    // assignments that need it and again whenever it changes. The data plane validates every name and
    // address before a command sees it.
    // `seq` numbers the plans of one session; the agent answers `netplanApplied` once its kernel matches one
    // (it applies only the newest, which covers every earlier one). The leader holds back the stop of a task
    // until every node that could still send it connections has applied a plan without it (dispatcher.ts).
    netplan: object({ type: literal('netplan'), seq: uint(), plan: any() }),
    netplanApplied: object({ type: literal('netplanApplied'), seq: uint() }),
    // The agent's image store changed (a pull, a fetch from a peer, an import): the names it holds now, sorted.
    images: object({ type: literal('images'), names: array(str({ min: 1, max: 512 }), { max: 4096 }) }),
  }),
  samples: () => [
    {
      type: 'open' as const,
      nodeId: 'n1',
      description: {
        hostname: 'h1',
        os: 'linux',
        arch: 'x86_64',
        nanoCpus: 2e9,
        memoryBytes: 2 ** 31,
        labels: { zone: 'a' },
        runtimes: ['process'],
        engineVersion: '0.1.0',
        clusterAddr: '127.0.0.2:4242',
        gossipAddr: '127.0.0.2:4242',
      },
    },
    { type: 'session' as const, sessionId: 's1', heartbeatMs: 1000, managers: [{ nodeId: 'm1', addr: '127.0.0.1:4242' }] },
    { type: 'assignments' as const, full: true, tasks: [], removed: [] },
    { type: 'gossipKeys' as const, keys: ['a2V5'] },
    { type: 'denied' as const, nodeIds: ['n9'] },
    { type: 'caTrust' as const, roots: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'], issuer: '0123456789abcdef' },
    { type: 'secrets' as const, items: [{ kind: 'secret' as const, id: 's1', data: new Uint8Array([1, 2]) }] },
  ],
});

export interface SecretItem {
  kind: 'secret' | 'config';
  id: string;
  data: Uint8Array;
}

export type SessionFrame =
  | { type: 'open'; nodeId: string; description: AgentDescription }
  | { type: 'session'; sessionId: string; heartbeatMs: number; fenceMs?: number; managers: { nodeId: string; addr: string }[] }
  | { type: 'assignments'; full: boolean; tasks: Task[]; removed: string[] }
  | { type: 'node'; node: Node }
  | { type: 'gossipKeys'; keys: string[] }
  | { type: 'netplan'; seq: number; plan: NodePlan }
  | { type: 'netplanApplied'; seq: number }
  | { type: 'images'; names: string[] }
  | { type: 'caTrust'; roots: string[]; issuer: string }
  | { type: 'denied'; nodeIds: string[] }
  | { type: 'secrets'; items: SecretItem[] };

export const Heartbeat = defineMessage({
  name: 'dispatcher.heartbeat',
  version: 1,
  /**
   * `gossipKeyId`: which gossip key the node sends with (gossipKeyId()), so the leader retires an old key once every node moved on.
   * `caTrustId` / `certIssuerId`: which roots the node trusts and which root signed its certificate (ca-rotation.ts), so a CA rotation moves on.
   */
  body: object({ nodeId: id, sessionId: id, gossipKeyId: optional(str({ max: 16 })), caTrustId: optional(str({ max: 64 })), certIssuerId: optional(str({ max: 16 })) }),
  response: object({ heartbeatMs: uint() }),
  samples: () => [{ nodeId: 'n1', sessionId: 's1' }, { nodeId: 'n1', sessionId: 's1', gossipKeyId: '0123456789abcdef', caTrustId: 'a+b', certIssuerId: 'a' }],
  responseSamples: () => [{ heartbeatMs: 1000 }],
});

export const taskStatusSchema = object({
  Timestamp: str({ max: 64 }),
  State: oneOf(TASK_STATES),
  Message: str({ max: 4096 }),
  Err: optional(str({ max: 4096 })),
  ContainerStatus: optional(object({ ContainerID: optional(str({ max: 256 })), PID: optional(uint()), ExitCode: optional(uint({ max: 2 ** 32 })) })),
});

export const StatusReport = defineMessage({
  name: 'dispatcher.status',
  version: 1,
  body: object({
    nodeId: id,
    sessionId: id,
    updates: array(object({ taskId: id, status: taskStatusSchema }), { min: 1, max: 10_000 }),
  }),
  response: object({ accepted: uint() }),
  samples: () => [
    { nodeId: 'n1', sessionId: 's1', updates: [{ taskId: 't1', status: { Timestamp: '2026-11-21T00:00:00Z', State: 'running' as const, Message: 'started' } }] },
  ],
  responseSamples: () => [{ accepted: 1 }],
});

export type StatusUpdate = { taskId: string; status: TaskStatus };

/** A gossip key's public name: the first 16 hex digits of its SHA-256 (says which key, not the key). */
export function gossipKeyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}
