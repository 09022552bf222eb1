import t from 'tap';
import { WsTransport } from '../../src/wire/ws-transport.js';
import { conformance } from './conformance.js';

// Peer processes get fixed ports so a restarted peer is found at the same address.
const basePort = 20_000 + (process.pid % 10_000) * 2;

conformance(t, {
  name: 'ws',
  make: async (nodeId, connection) => new WsTransport({ nodeId, ...(connection ? { connection } : {}) }),
  peerArgs: (nodeId, slot) => ['ws', nodeId, String(basePort + slot)],
  restartTarget: (address) => address,
});
