/**
 * The cluster CA's private key at rest: sealed with the data key in the
 * stored Cluster object, opened only in memory when a certificate is signed.
 */
import type { Cluster } from '../../model/index.js';
import { caKeyAad, isSealed, type DataKey } from './data-key.js';
import { SecretsError } from './errors.js';

/** The CA as stored: its key sealed when this manager has a data key (a founder without one keeps it in clear). */
export function sealCa(clusterId: string, ca: { CertPem: string; KeyPem: string }, key: DataKey | null): { CertPem: string; KeyPem: string } {
  return key ? { CertPem: ca.CertPem, KeyPem: key.seal(caKeyAad(clusterId), Buffer.from(ca.KeyPem, 'utf8')) } : ca;
}

/** The cluster with its CA key in clear, for signing; a PEM stored in clear (an older cluster) passes through. */
export function withOpenCa(c: Cluster, key: DataKey | null): Cluster {
  if (!c.ShoalCA || !isSealed(c.ShoalCA.KeyPem)) return c;
  if (!key) throw new SecretsError('NO_DATA_KEY', "this manager holds no data key, so it cannot open the cluster CA's key to sign certificates");
  return { ...c, ShoalCA: { CertPem: c.ShoalCA.CertPem, KeyPem: key.open(caKeyAad(c.ID), c.ShoalCA.KeyPem).toString('utf8') } };
}
