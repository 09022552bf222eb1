import { mkdirSync, readFileSync, existsSync } from 'node:fs';
import { writeFileDurably } from '../util/durable-file.js';
import path from 'node:path';

/**
 * A node's identity and bootstrap facts, in `<data-dir>/node.json`, written
 * durably (util/durable-file.ts).
 */
export interface NodeIdentity {
  version: 1;
  nodeId: string;
  clusterId: string;
  role: 'worker' | 'manager';
  /** The cluster gossip key (base64): the one it joined with, then the primary of the last ring it heard. */
  gossipKey: string;
  /** Every gossip key it accepts, the primary first (after a rotation; absent: just gossipKey). */
  gossipKeys?: string[];
  /** Cluster address (TCP ws) and gossip address (UDP): host:port, the same by convention. */
  advertiseAddr: string;
  /** TCP address of the control API over TLS (managers that were given --api-addr). */
  apiAddr?: string;
  hostname: string;
  /** Managers known at the last save, to find the cluster after a restart. */
  managers: { nodeId: string; addr: string }[];
  /** Set on the node that founded the cluster, so it bootstraps the store on first leadership. */
  founder?: boolean;
  /** The runtime tasks use unless their template names one (process | oci | docker). */
  runtime?: string;
  /** The OCI runtime binary the oci runtime uses (runc | crun; default runc). */
  ociRuntime?: string;
}

export function identityPath(dataDir: string): string {
  return path.join(dataDir, 'node.json');
}

export function loadIdentity(dataDir: string): NodeIdentity | null {
  const p = identityPath(dataDir);
  if (!existsSync(p)) return null;
  const v = JSON.parse(readFileSync(p, 'utf8')) as NodeIdentity;
  if (v.version !== 1 || typeof v.nodeId !== 'string') throw new Error(`${p} is not a Shoal node identity`);
  return v;
}

export function saveIdentity(dataDir: string, id: NodeIdentity): void {
  mkdirSync(dataDir, { recursive: true });
  writeFileDurably(identityPath(dataDir), JSON.stringify(id, null, 2));
}
