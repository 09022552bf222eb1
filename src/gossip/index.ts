/** Public surface of the gossip module (phase 1: the pure core). */
export type * from './interface.js';
export { GossipCore, createGossipNode } from './core.js';
export { GossipError, GossipErrorCode, isGossipError } from './errors.js';
export { GossipMetrics } from './metrics.js';
export {
  LAN,
  WAN,
  LOCAL,
  PROFILES,
  resolveOptions,
  suspicionMinMs,
  suspicionMaxMs,
  retransmitLimit,
  pushPullIntervalFor,
  type GossipOptions,
  type ProfileName,
} from './options.js';
export {
  gossipMessageSchema,
  compoundSchema,
  pushPullStateSchema,
  GOSSIP_MESSAGE_TYPE,
  GOSSIP_COMPOUND_TYPE,
  GOSSIP_PUSH_PULL_TYPE,
} from './messages.js';
export { encodedSize } from './size.js';
