/**
 * Contract of the pure SWIM + Lifeguard core (src/gossip/core.ts), shared with
 * the UDP driver (phase 2), the push-pull stream glue and the simulator.
 *
 * The core does no I/O and owns no timers: the driver feeds it the clock
 * (`tick(nowMs)`), received packets, join/leave/broadcast calls and remote
 * push-pull states, and drains `Ready` batches saying which packets to send,
 * which push-pull exchanges to run over a stream transport, and what changed.
 * This file imports nothing that runs, so every module can depend on it.
 */
import type { Rng } from '../util/rng.js';
import type { GossipOptions } from './options.js';
import type { GossipMetrics } from './metrics.js';

export type NodeId = string;
/** A gossip (UDP) or cluster (TCP/WebSocket) address, "host:port"; opaque to the core. */
export type Addr = string;
export type Role = 'manager' | 'worker';

/**
 * alive → suspect → dead is SWIM's failure path; `left` is a graceful leave
 * (the member announced it). At the same incarnation the later state in
 * alive < suspect < dead wins; `left` is final for that incarnation.
 */
export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

export interface Resources {
  nanoCpus: number;
  memoryBytes: number;
}

/**
 * Small member metadata carried in every alive message (so it must stay well
 * under one packet: `maxMetaBytes`).
 *
 * Versioning: the incarnation number versions the metadata. Changing it
 * (`updateMeta`) bumps the member's own incarnation and gossips a fresh alive,
 * exactly as memberlist's UpdateNode does. We chose this over a separate meta
 * version because it keeps ONE total order per member — (incarnation, state
 * precedence) — for every rule in the core, push-pull merges included, and a
 * meta change is rare (resources or labels edited by an operator).
 */
export interface NodeMeta {
  resources: Resources;
  labels: Record<string, string>;
}

/** A member as the local node sees it (a snapshot: mutating it changes nothing). */
export interface MemberRecord {
  id: NodeId;
  /** Gossip (UDP) address. */
  addr: Addr;
  /** Cluster (TCP/WebSocket) address: where Raft, the dispatcher and push-pull streams go. */
  clusterAddr: Addr;
  role: Role;
  meta: NodeMeta;
  state: MemberState;
  incarnation: number;
  /** Local clock (ms) of the last state change seen here. */
  stateChangeMs: number;
}

// ---- Ready ----

/** A packet for the UDP transport: these messages go out as one compound datagram. */
export interface OutPacket {
  to: Addr;
  messages: GossipMessage[];
  /** Estimated encoded size of `messages` by the core's `sizeOf` (≤ maxPacketBytes − packetOverheadBytes). */
  bytes: number;
}

/**
 * "Run a push-pull (full state exchange) with `to`". The driver opens a stream
 * to the member's cluster address, sends `state`, receives the remote state and
 * hands it to `mergeRemoteState`. A failure needs no report: the next period
 * retries with another member.
 */
export interface PushPullRequest {
  /** The peer's gossip address (the driver maps it to a stream endpoint). */
  to: Addr;
  /** The peer's cluster address when known (empty for a join seed). */
  clusterAddr: Addr;
  /** Member id when known (undefined for a join seed). */
  id?: NodeId;
  join: boolean;
  /** Our state, captured when the request was made. */
  state: PushPullState;
}

export type GossipEvent =
  /** A member we did not know, or one that was dead/left and came back with a higher incarnation. */
  | { type: 'joined'; member: MemberRecord }
  /** A live member changed its metadata, role or addresses (always with a higher incarnation). */
  | { type: 'updated'; member: MemberRecord }
  /** A suspected member refuted the suspicion. */
  | { type: 'alive'; member: MemberRecord }
  | { type: 'suspect'; member: MemberRecord; from: NodeId }
  /** `local`: this node's own suspicion timer declared it; otherwise we learnt it from `from`'s declaration. */
  | { type: 'dead'; member: MemberRecord; from: NodeId; local: boolean }
  | { type: 'left'; member: MemberRecord }
  /** A user broadcast from another member, delivered once per (origin, epoch, seq). */
  | { type: 'user'; origin: NodeId; seq: number; payload: Uint8Array };

export interface Ready {
  packets: OutPacket[];
  events: GossipEvent[];
  pushPulls: PushPullRequest[];
}

export interface SelfConfig {
  id: NodeId;
  addr: Addr;
  clusterAddr: Addr;
  role: Role;
  meta: NodeMeta;
  /**
   * Starting incarnation (default 1). A restarted node need not persist it:
   * when it learns that the cluster holds it at a higher incarnation (its old
   * life, dead or left), it refutes with that + 1.
   */
  incarnation?: number;
}

export interface GossipConfig {
  self: SelfConfig;
  rng: Rng;
  /** Clock at creation (ms, any monotonic origin). */
  nowMs: number;
  /** Partial: missing fields take the `lan` profile (options.ts). */
  options?: Partial<GossipOptions>;
  /**
   * Encoded size of one message in bytes, used to fit piggybacked messages in
   * a packet. Default: exact msgpack size with map-encoded objects (size.ts),
   * an upper bound of the record-encoded size the UDP transport will use.
   */
  sizeOf?: (msg: GossipMessage) => number;
}

/** What the driver and the simulator call. Errors are thrown as GossipError (errors.ts). */
export interface GossipNode {
  readonly id: NodeId;
  readonly metrics: GossipMetrics;
  /** Advance the clock to `nowMs` and fire everything due. Call before `receive` too. */
  tick(nowMs: number): void;
  /** A validated packet (one or more messages) that arrived from `fromAddr`. Never throws on peer input. */
  receive(fromAddr: Addr, packet: readonly GossipMessage[]): void;
  /** Push-pull with each seed (join: true); our own alive is already queued for gossip. */
  join(seeds: readonly Addr[]): void;
  /** Graceful leave: gossip our `left`, stop probing. Keep ticking until `leaveBroadcastDone()`. */
  leave(): void;
  leaveBroadcastDone(): boolean;
  /** Disseminate a small payload to every member; returns its sequence number. Throws PAYLOAD_TOO_LARGE, LEFT. */
  broadcast(payload: Uint8Array): number;
  /** Change our metadata: bumps our incarnation and gossips it. Throws META_TOO_LARGE, LEFT. */
  updateMeta(meta: NodeMeta): void;
  /** Change our role (a promotion or demotion): bumps our incarnation and gossips it. Throws LEFT. */
  updateRole(role: Role): void;
  /** The remote state of a push-pull this node initiated. Throws INVALID_STATE on a malformed state. */
  mergeRemoteState(state: PushPullState): void;
  /** A push-pull a peer initiated: merge its state, return ours (post-merge) to send back. */
  handlePushPull(remote: PushPullState): PushPullState;
  /** Our full state as sent in a push-pull. */
  localState(join?: boolean): PushPullState;
  /** Seed the member table without gossip (a restarted node's saved member list, or a simulator's converged start). */
  restoreMembers(members: readonly MemberRecord[]): void;
  hasReady(): boolean;
  ready(): Ready;
  /** The earliest clock value at which `tick` has something to do. */
  nextDeadline(): number;
  members(): MemberRecord[];
  member(id: NodeId): MemberRecord | undefined;
  /** Members in state alive or suspect, self included. */
  numActive(): number;
  /** Local health multiplier score, 0 (healthy) … awarenessMaxMultiplier − 1. */
  healthScore(): number;
  incarnation(): number;
}

// ---- Messages (runtime schemas in messages.ts) ----

/** Direct probe. `target` names who the prober means, so a restarted process on a reused address does not ack for the old one. */
export interface PingMsg {
  type: 'ping';
  seq: number;
  from: NodeId;
  target: NodeId;
}

/** Ask the receiver to probe `target` for us and relay the ack (or a nack when it hears nothing). */
export interface PingReqMsg {
  type: 'pingReq';
  seq: number;
  from: NodeId;
  target: NodeId;
  targetAddr: Addr;
  nack: boolean;
}

export interface AckMsg {
  type: 'ack';
  seq: number;
  from: NodeId;
}

/** Lifeguard: the intermediary of a ping-req is alive but did not hear from the target in time. */
export interface NackMsg {
  type: 'nack';
  seq: number;
  from: NodeId;
}

export interface AliveMsg {
  type: 'alive';
  id: NodeId;
  inc: number;
  addr: Addr;
  clusterAddr: Addr;
  role: Role;
  meta: NodeMeta;
}

export interface SuspectMsg {
  type: 'suspect';
  id: NodeId;
  inc: number;
  /** Who suspects: distinct `from`s are the independent confirmations of Lifeguard. */
  from: NodeId;
}

/** `from === id` means the member left gracefully. */
export interface DeadMsg {
  type: 'dead';
  id: NodeId;
  inc: number;
  from: NodeId;
}

/** A user broadcast. `epoch` is chosen at random per process life, so a restarted origin's seq 1 is not a duplicate. */
export interface UserMsg {
  type: 'user';
  origin: NodeId;
  epoch: number;
  seq: number;
  payload: Uint8Array;
}

export type GossipMessage = PingMsg | PingReqMsg | AckMsg | NackMsg | AliveMsg | SuspectMsg | DeadMsg | UserMsg;
export type GossipMessageType = GossipMessage['type'];

/** Several messages in one datagram (the UDP transport's framing of an OutPacket). */
export interface CompoundMsg {
  type: 'compound';
  msgs: GossipMessage[];
}

export interface PushPullMember {
  id: NodeId;
  addr: Addr;
  clusterAddr: Addr;
  role: Role;
  meta: NodeMeta;
  state: MemberState;
  inc: number;
}

/** Full state exchanged by push-pull (anti-entropy), self included. */
export interface PushPullState {
  type: 'pushPull';
  from: NodeId;
  join: boolean;
  members: PushPullMember[];
}
