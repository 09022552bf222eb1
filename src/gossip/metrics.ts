/**
 * Plain counters of one gossip node. The driver exports them (and adds its own
 * transport-level ones: decode failures, decrypt failures); the simulator sums
 * them. No histogram here: detection latencies are measured by whoever watches
 * events across nodes (the simulator, the chaos harness).
 */

/** Why a received message was ignored. Stale/duplicate ones are normal traffic; the rest point at a bug or a stranger. */
export interface DroppedCounters {
  /** A ping meant for another node id (a restarted process on a reused address). */
  wrongTarget: number;
  /** An ack/nack for no probe or relay of ours (late, or duplicated by the network). */
  unknownSeq: number;
  /** A membership message older than what we know (lower incarnation, or already in that state). */
  stale: number;
  /** A suspect/dead about a member we never heard of. */
  unknownMember: number;
  /** A user broadcast we already delivered, or older than the dedup window. */
  duplicateUser: number;
  /** An alive for a live member whose address changed at the same incarnation (conflict). */
  conflict: number;
  /** Anything received after we left, other than pings. */
  afterLeave: number;
}

export class GossipMetrics {
  packetsIn = 0;
  packetsOut = 0;
  messagesIn = 0;
  messagesOut = 0;
  /** Estimated encoded bytes of packets handed to the transport (by sizeOf). */
  bytesOut = 0;
  /** Piggybacked broadcasts sent (each retransmission counts). */
  piggybacked = 0;
  /** Broadcasts that left the queue unsent because newer news about the same member replaced them. */
  broadcastsInvalidated = 0;
  /** User broadcasts evicted from a full queue before finishing their retransmissions. */
  userBroadcastsEvicted = 0;

  probes = 0;
  probesFailed = 0;
  /** Probes that needed the indirect round (the direct ack did not come within the probe timeout). */
  indirectProbes = 0;
  pingReqsServed = 0;
  acksReceived = 0;
  nacksReceived = 0;
  nacksSent = 0;

  /** Suspicions this node raised from its own failed probes (a false-positive precursor when the member lives). */
  suspicionsRaised = 0;
  /** Suspicion timers started here (own or learnt). */
  suspicionsStarted = 0;
  /** Independent confirmations counted (Lifeguard). */
  confirmations = 0;
  /** Suspicions of other members ended by their refutation. */
  suspicionsRefuted = 0;
  /** Last-chance probes of suspects whose timer expired. */
  verifications = 0;
  /** Verifications the suspect answered without refuting (its suspicion restarted). */
  verificationsAnswered = 0;
  /** Members this node's own timer declared dead. */
  deathsDeclared = 0;
  /** Times this node refuted a suspect/dead/stale-alive message about itself. */
  refutations = 0;

  pushPullsStarted = 0;
  /** Times the join seeds were tried again because this member knew no live one (joinRetryMs). */
  joinRetries = 0;
  pushPullsServed = 0;
  pushPullsMerged = 0;
  userDelivered = 0;

  /** The driver called tick after a gap above stallThresholdMs: this process was paused or starved. */
  stalls = 0;
  /** Probes abandoned without a verdict because the process stalled mid-probe. */
  probesAbandoned = 0;

  dropped: DroppedCounters = {
    wrongTarget: 0,
    unknownSeq: 0,
    stale: 0,
    unknownMember: 0,
    duplicateUser: 0,
    conflict: 0,
    afterLeave: 0,
  };

  /** Adds another node's counters into this one (simulator totals). */
  add(o: GossipMetrics): void {
    for (const k of Object.keys(this) as (keyof GossipMetrics)[]) {
      const v = this[k];
      if (typeof v === 'number') (this as unknown as Record<string, number>)[k] = v + (o[k] as number);
    }
    for (const k of Object.keys(this.dropped) as (keyof DroppedCounters)[]) this.dropped[k] += o.dropped[k];
  }
}
