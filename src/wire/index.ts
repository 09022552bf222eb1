/** Public surface of the wire layer. */
export * from './interface.js';
export * from './errors.js';
export * from './options.js';
export { Codec, FrameKind, type Envelope } from './codec.js';
export { defineMessage, registry, MessageRegistry, type MessageType } from './registry.js';
export { CloseCode, PROTOCOL_VERSION } from './messages.js';
export { WsTransport, type WsTransportOptions, type TlsOptions } from './ws-transport.js';
export { HyperswarmTransport, type HyperswarmTransportOptions, type DhtNode } from './hyperswarm-transport.js';
export { FaultController, type LinkFaults } from './faults.js';
export { PeerLink, type PeerLinkOptions } from './peer-link.js';
export { newWireMetrics, type WireMetrics } from './metrics.js';
