import { defineMessage } from '../wire/registry.js';
import { array, object, oneOf, optional, str } from '../wire/schema.js';

/**
 * Joining and managing membership over the cluster port. Requests go to the
 * leader; a follower answers NOT_LEADER naming it, and the caller retries
 * there.
 */

const id = str({ min: 1, max: 128 });
const addr = str({ min: 1, max: 300 });

const pem = str({ min: 1, max: 16_384 });

/**
 * A node joins: its token, and a CSR for the key it made (its private key
 * never leaves it). The manager answers with the node certificate it signed
 * — CN node ID, OU role, O cluster — and the root CA's certificate. Sent
 * over TLS before the joiner has a certificate (the only request an
 * anonymous peer may make, with CaCertificate), to a manager whose
 * certificate the joiner verified against the CA its token pins.
 */
export const Join = defineMessage({
  name: 'membership.join',
  version: 1,
  body: object({ token: str({ max: 200 }), nodeId: id, hostname: str({ max: 255 }), clusterAddr: addr, gossipAddr: addr, csr: optional(pem) }),
  response: object({
    clusterId: id,
    nodeId: id,
    role: oneOf(['worker', 'manager'] as const),
    gossipKey: str({ max: 100 }),
    managers: array(object({ nodeId: id, addr }), { max: 64 }),
    certificate: optional(pem),
    caCertificate: optional(pem),
    /** The cluster data key (base64), to managers only (manager/secrets/data-key.ts); the connection is mutual TLS. */
    dataKey: optional(str({ min: 1, max: 100 })),
  }),
  samples: () => [
    { token: 'SWMTKN-1-x-y', nodeId: 'n2', hostname: 'h2', clusterAddr: '127.0.0.2:4242', gossipAddr: '127.0.0.2:4242' },
    { token: 'SWMTKN-1-x-y', nodeId: 'n2', hostname: 'h2', clusterAddr: '127.0.0.2:4242', gossipAddr: '127.0.0.2:4242', csr: '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n' },
  ],
  responseSamples: () => [
    { clusterId: 'c1', nodeId: 'n2', role: 'worker' as const, gossipKey: 'k', managers: [{ nodeId: 'm1', addr: '127.0.0.1:4242' }] },
    { clusterId: 'c1', nodeId: 'n2', role: 'worker' as const, gossipKey: 'k', managers: [{ nodeId: 'm1', addr: '127.0.0.1:4242' }], certificate: 'c', caCertificate: 'ca' },
    { clusterId: 'c1', nodeId: 'n2', role: 'manager' as const, gossipKey: 'k', managers: [{ nodeId: 'm1', addr: '127.0.0.1:4242' }], certificate: 'c', caCertificate: 'ca', dataKey: 'a2V5' },
  ],
});

export interface JoinResponse {
  clusterId: string;
  nodeId: string;
  role: 'worker' | 'manager';
  gossipKey: string;
  managers: { nodeId: string; addr: string }[];
  certificate?: string;
  caCertificate?: string;
  dataKey?: string;
}

/**
 * The cluster's root CA certificate, for anyone (no certificate needed): a
 * joining node fetches it first and checks its digest against its token
 * before it trusts the manager with the token.
 */
export const CaCertificate = defineMessage({
  name: 'membership.ca',
  version: 1,
  body: object({}),
  response: object({ caCertificate: pem }),
  samples: () => [{}],
  responseSamples: () => [{ caCertificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }],
});

/** A node renews its certificate (at half-life) or asks for one matching its current role; sent with its current certificate. */
export const CertRenew = defineMessage({
  name: 'membership.renew',
  version: 1,
  body: object({ csr: pem }),
  // dataKey: the cluster data key, only when the role is manager (a promoted worker gets it here).
  response: object({ certificate: pem, caCertificate: pem, role: oneOf(['worker', 'manager'] as const), dataKey: optional(str({ min: 1, max: 100 })) }),
  samples: () => [{ csr: '-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n' }],
  responseSamples: () => [
    { certificate: 'c', caCertificate: 'ca', role: 'worker' as const },
    { certificate: 'c', caCertificate: 'ca', role: 'manager' as const, dataKey: 'a2V5' },
  ],
});

/** Membership changes a follower's API forwards to the leader. */
export const MembershipChange = defineMessage({
  name: 'membership.change',
  version: 1,
  body: object({ action: oneOf(['promote', 'demote', 'remove', 'remove-force'] as const), nodeId: id, note: optional(str({ max: 200 })) }),
  response: object({ done: oneOf(['ok'] as const) }),
  samples: () => [{ action: 'promote' as const, nodeId: 'n2' }],
  responseSamples: () => [{ done: 'ok' as const }],
});
