/**
 * Every node-to-node message a Shoal node speaks, as one explicit list: the
 * node daemon adds CLUSTER_MESSAGES to its registry when it starts, so its
 * codec knows every type before the first frame arrives, and the codec and
 * fuzz tests walk the same list. Nothing registers by being imported
 * (src/wire/registry.ts). The contracts between roles live in this folder
 * (dispatcher, lease, membership, logs, images), so the manager and the worker
 * depend on them and never on each other; the transports' own (wire, raft,
 * gossip) stay with their modules. Add a line when a module defines messages.
 */
import type { MessageType } from '../wire/registry.js';
import { WIRE_MESSAGES } from '../wire/messages.js';
import { RaftWire } from '../raft/transport.js';
import { GossipPacketWire, PushPullWire } from '../gossip/transport.js';
import { Heartbeat, SessionOpen, StatusReport } from './dispatcher.js';
import { CaCertificate, CertRenew, Join, MembershipChange } from './membership.js';
import { NodeLogs, TaskLogs } from './logs.js';
import { LeaseRenew, LeaseReport } from './lease.js';
import { ImageBlob, ImageFind } from './images.js';

export const CLUSTER_MESSAGES: readonly MessageType[] = [
  ...WIRE_MESSAGES,
  RaftWire,
  GossipPacketWire,
  PushPullWire,
  SessionOpen,
  Heartbeat,
  StatusReport,
  Join,
  CaCertificate,
  CertRenew,
  MembershipChange,
  TaskLogs,
  NodeLogs,
  LeaseRenew,
  LeaseReport,
  ImageBlob,
  ImageFind,
] as MessageType[];
