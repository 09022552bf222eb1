/** Certificate lifetimes. Swarm issues node certificates for 90 days; shorter bounds what a stolen key is worth. */
export interface CaOptions {
  /** Node certificates live this long (default 24 h) and are renewed at half-life. */
  nodeCertLifetimeMs: number;
  /** Administrators' API client certificates live this long (default 1 year, as the bundles people make for dockerd's --tlsverify). */
  adminCertLifetimeMs: number;
  /** The root CA lives this long (default 20 years, as Swarm's). */
  rootLifetimeMs: number;
  /** Certificates start this long before "now", so a peer whose clock runs slightly behind accepts them. */
  backdateMs: number;
}

export const DEFAULT_CA_OPTIONS: CaOptions = {
  nodeCertLifetimeMs: 24 * 3600_000,
  adminCertLifetimeMs: 365 * 24 * 3600_000,
  rootLifetimeMs: 20 * 365 * 24 * 3600_000,
  backdateMs: 5 * 60_000,
};
