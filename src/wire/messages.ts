import { defineMessage } from './registry.js';
import { object, optional, str, uint, literal, oneOf } from './schema.js';

/**
 * The wire layer's own control messages: handshake, keepalive, goodbye.
 * Everything else is defined by the module that owns it.
 */

/**
 * The wire protocol both ends of a connection must speak, checked in the
 * handshake. 2: bodies may refer to their type's static record table
 * (structures.ts), which protocol-1 nodes cannot read.
 */
export const PROTOCOL_VERSION = 2;

const nodeId = str({ min: 1, max: 128 });

/** First frame from the dialler: who I am, and whom I meant to reach. */
export const Hello = defineMessage({
  name: 'wire.hello',
  version: 1,
  body: object({
    nodeId,
    protocol: uint({ max: 1000 }),
    /** The node id the dialler expects to reach; the acceptor refuses a mismatch. */
    expect: optional(nodeId),
  }),
  samples: () => [
    { nodeId: 'node-a', protocol: PROTOCOL_VERSION },
    { nodeId: 'n1', protocol: PROTOCOL_VERSION, expect: 'n2' },
  ],
});

/** The acceptor's answer to hello. */
export const Welcome = defineMessage({
  name: 'wire.welcome',
  version: 1,
  body: object({ nodeId, protocol: uint({ max: 1000 }) }),
  samples: () => [{ nodeId: 'node-b', protocol: PROTOCOL_VERSION }],
});

/** Keepalive, sent when a connection has been send-idle for a while. */
export const Ping = defineMessage({
  name: 'wire.ping',
  version: 1,
  body: literal(0),
  samples: () => [0 as const],
});

export const CloseCode = {
  normal: 'normal',
  frameTooLarge: 'frame-too-large',
  idleTimeout: 'idle-timeout',
  protocolError: 'protocol-error',
  handshakeFailed: 'handshake-failed',
  transportError: 'transport-error',
  shutdown: 'shutdown',
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Sent just before a deliberate close, so the peer learns why. */
export const Goodbye = defineMessage({
  name: 'wire.goodbye',
  version: 1,
  body: object({
    code: oneOf(Object.values(CloseCode)),
    reason: str({ max: 1024 }),
  }),
  samples: () => [
    { code: 'normal' as const, reason: 'bye' },
    { code: 'frame-too-large' as const, reason: 'frame of 20000000 bytes exceeds the maximum of 16777216' },
  ],
});

/** The transport's own messages: every codec knows them (codec.ts adds them). */
export const WIRE_MESSAGES = [Hello, Welcome, Ping, Goodbye];
