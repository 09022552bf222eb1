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

/**
 * The cluster with its CA keys in clear, for signing: the CA's and, during
 * a root rotation, the new root's (sealed under the same associated data, so
 * the new root's key becomes the CA's without being sealed again). A PEM
 * stored in clear (an older cluster) passes through.
 */
export function withOpenCa(c: Cluster, key: DataKey | null): Cluster {
  const open = (pem: string) => {
    if (!isSealed(pem)) return pem;
    if (!key) throw new SecretsError('NO_DATA_KEY', "this manager holds no data key, so it cannot open the cluster CA's key to sign certificates");
    return key.open(caKeyAad(c.ID), pem).toString('utf8');
  };
  const r = c.ShoalCARotation;
  return {
    ...c,
    ...(c.ShoalCA ? { ShoalCA: { CertPem: c.ShoalCA.CertPem, KeyPem: open(c.ShoalCA.KeyPem) } } : {}),
    ...(r ? { ShoalCARotation: { ...r, KeyPem: open(r.KeyPem) } } : {}),
  };
}
