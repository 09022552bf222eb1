import { defineMessage } from '../wire/registry.js';
import { bytes, object } from '../wire/schema.js';
import type { CompoundMsg } from './interface.js';
import { compoundSchema } from './messages.js';

/**
 * Gossip's two wire types, both through the one codec every stream uses:
 *
 * - `gossip.packet`: the body of one UDP datagram, a compound of SWIM
 *   messages. The encoded frame is then sealed by the keyring (keyring.ts),
 *   so a datagram is `seal(frame)`, at most 1,400 bytes.
 * - `gossip.pushpull`: the anti-entropy exchange over the cluster Transport
 *   (request: our state, response: theirs). The state travels sealed by the
 *   same keyring, so a node without the cluster key cannot join through a
 *   push-pull either.
 */
export const GossipPacketWire = defineMessage<CompoundMsg>({
  name: 'gossip.packet',
  version: 1,
  body: compoundSchema,
  samples: () => [
    {
      type: 'compound',
      msgs: [
        { type: 'ping', seq: 7, from: 'n1', target: 'n2' },
        { type: 'ack', seq: 6, from: 'n1' },
        { type: 'nack', seq: 5, from: 'n1' },
        { type: 'pingReq', seq: 8, from: 'n1', target: 'n3', targetAddr: '127.0.0.3:4242', nack: true },
        {
          type: 'alive',
          id: 'n1',
          inc: 3,
          addr: '127.0.0.1:4242',
          clusterAddr: '127.0.0.1:4242',
          role: 'worker',
          meta: { resources: { nanoCpus: 2e9, memoryBytes: 2 ** 31 }, labels: { zone: 'a' } },
        },
        { type: 'suspect', id: 'n3', inc: 2, from: 'n1' },
        { type: 'dead', id: 'n3', inc: 2, from: 'n1' },
        { type: 'user', origin: 'n1', epoch: 99, seq: 1, payload: Buffer.from('endpoint') },
      ],
    },
  ],
});

const sealed = object({ sealed: bytes({ max: 64 * 1024 * 1024 }) });

export const PushPullWire = defineMessage({
  name: 'gossip.pushpull',
  version: 1,
  body: sealed,
  response: sealed,
  samples: () => [{ sealed: Buffer.from('opaque sealed state') }],
  responseSamples: () => [{ sealed: Buffer.from('opaque sealed state') }],
});
