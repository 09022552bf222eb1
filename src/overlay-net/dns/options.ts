/** What the node daemon tells its embedded resolver. */
export interface ResolverOptions {
  /**
   * The cluster's DNS domain. Names under it that the plan does not hold get
   * NXDOMAIN instead of being forwarded; `<name>.<domain>` resolves as `<name>`.
   */
  domain?: string;
  /** Upstream resolvers, "a.b.c.d" or "a.b.c.d:port". Default: the nameservers of resolvConfPath. */
  upstreams?: string[];
  resolvConfPath?: string;
  /** Per upstream; a forwarded query is answered SERVFAIL after every upstream timed out. */
  forwardTimeoutMs?: number;
  /** The port to serve on each gateway (53; tests may choose another). */
  port?: number;
  /** TTL of VIP answers (a VIP lives as long as its service), seconds. */
  vipTtl?: number;
  /** TTL of task-address answers (they change as tasks come and go), seconds. */
  taskTtl?: number;
  onError?: (err: Error) => void;
}

export const resolverDefaults = {
  domain: 'shoal',
  resolvConfPath: '/etc/resolv.conf',
  forwardTimeoutMs: 2000,
  port: 53,
  vipTtl: 600,
  taskTtl: 5,
};
