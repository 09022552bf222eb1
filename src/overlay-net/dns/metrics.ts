/** Plain counters of the embedded resolver. */
export class DnsMetrics {
  queries = 0;
  /** Answered from the plan (including NODATA for a known name asked for another type). */
  answered = 0;
  nxdomain = 0;
  forwarded = 0;
  /** Forwarded queries no upstream answered in time (answered SERVFAIL). */
  forwardFailures = 0;
  /** External names asked from an internal network (answered REFUSED, never forwarded). */
  refused = 0;
  /** Packets that do not decode as a DNS query: dropped, never answered. */
  malformed = 0;
  /** UDP answers cut to 512 bytes with TC set (the client retries over TCP). */
  truncated = 0;
  bindFailures = 0;
}
