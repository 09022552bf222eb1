/**
 * Gossip wire messages: the types (declared in interface.ts) and their runtime
 * schemas, for the UDP transport (datagrams) and the push-pull stream to
 * register with the wire codec. Validation here is structural (types, ranges,
 * lengths); the core still applies SWIM's semantic rules (incarnations,
 * unknown members, stale sequence numbers) and drops what does not fit.
 */
import { array, bool, bytes, int, literal, object, oneOf, record, str, tagged, uint } from '../wire/schema.js';
import type { Infer, Schema } from '../wire/schema.js';
import type { CompoundMsg, GossipMessage, PushPullState } from './interface.js';

export type {
  AckMsg,
  AliveMsg,
  CompoundMsg,
  DeadMsg,
  GossipMessage,
  GossipMessageType,
  NackMsg,
  PingMsg,
  PingReqMsg,
  PushPullMember,
  PushPullState,
  SuspectMsg,
  UserMsg,
} from './interface.js';

/** Node ids are short names or hex public keys. */
export const nodeIdSchema = str({ min: 1, max: 256 });
/** "host:port", IPv6 in brackets included; a DNS name is allowed. */
export const addrSchema = str({ max: 300 });
/** Incarnations and sequence numbers: counters that only grow. */
const counter = uint();

/** Labels: a handful of short key/values; the whole meta must also fit maxMetaBytes (checked by the core). */
export const labelsSchema = record(str({ max: 256 }), { max: 64 });
export const metaSchema = object({
  resources: object({ nanoCpus: uint(), memoryBytes: uint() }),
  labels: labelsSchema,
});
export const roleSchema = oneOf(['manager', 'worker'] as const);
export const memberStateSchema = oneOf(['alive', 'suspect', 'dead', 'left'] as const);

export const pingSchema = object({ type: literal('ping'), seq: counter, from: nodeIdSchema, target: nodeIdSchema });
export const pingReqSchema = object({
  type: literal('pingReq'),
  seq: counter,
  from: nodeIdSchema,
  target: nodeIdSchema,
  targetAddr: addrSchema,
  nack: bool(),
});
export const ackSchema = object({ type: literal('ack'), seq: counter, from: nodeIdSchema });
export const nackSchema = object({ type: literal('nack'), seq: counter, from: nodeIdSchema });
export const aliveSchema = object({
  type: literal('alive'),
  id: nodeIdSchema,
  inc: counter,
  addr: addrSchema,
  clusterAddr: addrSchema,
  role: roleSchema,
  meta: metaSchema,
});
export const suspectSchema = object({ type: literal('suspect'), id: nodeIdSchema, inc: counter, from: nodeIdSchema });
export const deadSchema = object({ type: literal('dead'), id: nodeIdSchema, inc: counter, from: nodeIdSchema });
/** A user payload must fit one datagram with room to spare: 1 KiB. */
export const MAX_USER_PAYLOAD_BYTES = 1024;
export const userSchema = object({
  type: literal('user'),
  origin: nodeIdSchema,
  epoch: int({ min: 0, max: 0xffffffff }),
  seq: counter,
  payload: bytes({ max: MAX_USER_PAYLOAD_BYTES }),
});

const messageUnion = tagged('type', {
  ping: pingSchema,
  pingReq: pingReqSchema,
  ack: ackSchema,
  nack: nackSchema,
  alive: aliveSchema,
  suspect: suspectSchema,
  dead: deadSchema,
  user: userSchema,
});

/** A datagram is ≤ 1,400 bytes; no message is smaller than ~20 bytes, so 128 bounds a bad peer. */
export const MAX_COMPOUND_MESSAGES = 128;
const compound = object({ type: literal('compound'), msgs: array(messageUnion, { min: 1, max: MAX_COMPOUND_MESSAGES }) });

export const pushPullMemberSchema = object({
  id: nodeIdSchema,
  addr: addrSchema,
  clusterAddr: addrSchema,
  role: roleSchema,
  meta: metaSchema,
  state: memberStateSchema,
  inc: counter,
});
/** 100,000 members bounds a bad peer's allocation far above any cluster we target. */
export const MAX_PUSH_PULL_MEMBERS = 100_000;
const pushPull = object({
  type: literal('pushPull'),
  from: nodeIdSchema,
  join: bool(),
  members: array(pushPullMemberSchema, { max: MAX_PUSH_PULL_MEMBERS }),
});

// The schemas' inferred types and the hand-written interfaces must agree both
// ways, so a field added to one without the other fails to compile.
type InferredMsg = Infer<typeof messageUnion>;
const _m1 = (m: InferredMsg): GossipMessage => m;
const _m2 = (m: GossipMessage): InferredMsg => m;
type InferredCompound = Infer<typeof compound>;
const _c1 = (m: InferredCompound): CompoundMsg => m;
const _c2 = (m: CompoundMsg): InferredCompound => m;
type InferredPP = Infer<typeof pushPull>;
const _p1 = (m: InferredPP): PushPullState => m;
const _p2 = (m: PushPullState): InferredPP => m;
void _m1, void _m2, void _c1, void _c2, void _p1, void _p2;

/** One gossip message (a single-message datagram). */
export const gossipMessageSchema: Schema<GossipMessage> = messageUnion as Schema<GossipMessage>;
/** A datagram carrying several messages. */
export const compoundSchema: Schema<CompoundMsg> = compound as Schema<CompoundMsg>;
/** The state sent each way over a push-pull stream. */
export const pushPullStateSchema: Schema<PushPullState> = pushPull as Schema<PushPullState>;

/** Wire type names under which the transports register these schemas. */
export const GOSSIP_MESSAGE_TYPE = 'gossip';
export const GOSSIP_COMPOUND_TYPE = 'gossip.compound';
export const GOSSIP_PUSH_PULL_TYPE = 'gossip.pushPull';
