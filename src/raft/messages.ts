/**
 * Runtime schema of Raft wire messages, for the driver to register with the
 * wire codec. Validation here is structural only (types, ranges); the core
 * still checks semantics (contiguous entries, sane terms, known peers) and
 * drops what does not fit, because a structurally valid message can still be
 * garbage.
 */
import { array, bool, bytes, literal, object, oneOf, optional, str, tagged, uint } from '../wire/schema.js';
import type { Infer, Schema } from '../wire/schema.js';
import type { Message } from './interface.js';

export type { Message, MessageType } from './interface.js';

/** Node ids are short names/keys; 256 chars leaves room for a hex public key. */
export const nodeIdSchema = str({ min: 1, max: 256 });

export const entrySchema = object({
  term: uint(),
  index: uint(),
  type: oneOf(['normal', 'conf', 'noop'] as const),
  data: bytes(),
});

/** Clusters are a handful of managers; 1,024 members bounds a bad peer's allocation. */
export const confStateSchema = object({
  voters: array(nodeIdSchema, { max: 1024 }),
  learners: array(nodeIdSchema, { max: 1024 }),
});

export const snapshotMetaSchema = object({ index: uint(), term: uint(), conf: confStateSchema });

/** A proposal ref is the driver's (origin, seq) header: a few dozen bytes. */
export const MAX_REF_BYTES = 512;

const base = { from: nodeIdSchema, to: nodeIdSchema, term: uint({ min: 1 }) };

const schema = tagged('type', {
  append: object({
    type: literal('append'),
    ...base,
    prevIndex: uint(),
    prevTerm: uint(),
    entries: array(entrySchema),
    commit: uint(),
  }),
  appendResp: object({
    type: literal('appendResp'),
    ...base,
    index: uint(),
    reject: bool(),
    hintIndex: uint(),
    hintTerm: uint(),
  }),
  heartbeat: object({ type: literal('heartbeat'), ...base, commit: uint(), readSeq: uint() }),
  heartbeatResp: object({ type: literal('heartbeatResp'), ...base, readSeq: uint() }),
  vote: object({
    type: literal('vote'),
    ...base,
    pre: bool(),
    lastIndex: uint(),
    lastTerm: uint(),
    transfer: bool(),
  }),
  voteResp: object({ type: literal('voteResp'), ...base, pre: bool(), reject: bool() }),
  snapshot: object({
    type: literal('snapshot'),
    ...base,
    meta: snapshotMetaSchema,
    offset: uint(),
    total: uint(),
    data: bytes(),
  }),
  snapshotResp: object({ type: literal('snapshotResp'), ...base, index: uint(), offset: uint() }),
  timeoutNow: object({ type: literal('timeoutNow'), ...base }),
  propose: object({
    type: literal('propose'),
    ...base,
    entries: array(bytes(), { min: 1 }),
    refs: optional(array(bytes({ max: MAX_REF_BYTES }), { min: 1 })),
  }),
  proposeRefused: object({
    type: literal('proposeRefused'),
    ...base,
    code: oneOf(['UNCOMMITTED_CAP', 'PROPOSAL_DROPPED', 'NOT_LEADER'] as const),
    reason: str({ max: 1024 }),
    refs: array(bytes({ min: 1, max: MAX_REF_BYTES }), { min: 1 }),
  }),
  readIndex: object({ type: literal('readIndex'), ...base, ctx: bytes({ max: 1024 }) }),
  readIndexResp: object({ type: literal('readIndexResp'), ...base, index: uint(), ctx: bytes({ max: 1024 }) }),
});

// The schema's inferred type and the hand-written Message union must agree
// both ways, so a field added to one without the other fails to compile.
type Inferred = Infer<typeof schema>;
const _toMessage = (m: Inferred): Message => m;
const _fromMessage = (m: Message): Inferred => m;
void _toMessage;
void _fromMessage;

/** Validator for every Raft message; register it with the wire codec. */
export const messageSchema: Schema<Message> = schema as Schema<Message>;

/** Wire type name under which the driver registers Raft messages. */
export const RAFT_MESSAGE_TYPE = 'raft';
