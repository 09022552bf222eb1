import t from 'tap';
import { randomBytes } from 'node:crypto';
import createTestnet from 'hyperdht/testnet.js';
import { HyperswarmTransport } from '../../src/wire/hyperswarm-transport.js';
import { conformance } from './conformance.js';

// A private DHT on loopback: three bootstrap nodes, never the public network.
const testnet = await createTestnet(3, { host: '127.0.0.1' });
t.teardown(() => testnet.destroy());
const bootstrap = testnet.bootstrap;
const dhtBasePort = 30_000 + (process.pid % 10_000) * 2;
const seeds = [randomBytes(32).toString('hex'), randomBytes(32).toString('hex')];

conformance(t, {
  name: 'hyperswarm',
  make: async (nodeId, connection) => new HyperswarmTransport({ nodeId, bootstrap, ...(connection ? { connection } : {}) }),
  // Same seed → same Noise key pair, and a fixed UDP port, as a real node has:
  // a restarted peer keeps its identity and address.
  peerArgs: (nodeId, slot) => ['hyperswarm', nodeId, JSON.stringify(bootstrap), seeds[slot]!, String(dhtBasePort + slot)],
  restartTarget: (address) => address,
});
