/**
 * Tunables of the gossip core, as named profiles (memberlist style). Every
 * value carries why it is what it is. `lan` is the default.
 *
 * Expected failure-detection time on the LAN profile for n members (crash at 0):
 *   first probe of the dead member  ~ probeInterval / 2 on average (≈ n probers
 *                                     each probing 1 member / probeInterval)
 *   its probe fails                 + probeInterval (the probe's deadline)
 *   suspicion timeout               + suspicionMult × log10(n) × probeInterval
 *                                     once Lifeguard's confirmations arrive
 *   dead spreads to everyone        + ~log4(n) gossip intervals
 * ≈ 0.1 + 0.25 + 3.0 + 0.6 s ≈ 4 s at n = 1,000 (the simulator measures it).
 */
import { GossipError } from './errors.js';

export interface GossipOptions {
  /** Time between two probes of this node (Lifeguard scales it by the local health multiplier). */
  probeIntervalMs: number;
  /** Wait for the direct ack before asking indirect probers (scaled by the local health multiplier). */
  probeTimeoutMs: number;
  /** Members asked to ping-req a member that missed its direct ack. */
  indirectChecks: number;
  /**
   * Resend the direct ping this long into a probe when no ack came yet (0:
   * never). Scaled by the local health multiplier.
   */
  directRetryMs: number;
  /**
   * Resend the direct ping together with the ping-reqs. memberlist sends a TCP
   * ping at that point; the core has no streams for probes, so it retries over
   * the datagram path instead: a second chance against a lost ping or ack.
   */
  directRetry: boolean;
  /**
   * Before declaring a suspect dead, probe it once more (ping carrying the
   * suspicion, ping-reqs, direct retry), during the last probe interval of
   * its suspicion timeout. Catches the member that missed a refutation
   * everyone else heard, at no cost in detection latency.
   */
  verifyBeforeDeclare: boolean;
  /** Verification probes of a suspicion still short of its k confirmations (a confirmed one gets one). */
  verifyUnconfirmedProbes: number;
  /** Period of the gossip round that pushes queued broadcasts to `gossipNodes` random members. */
  gossipIntervalMs: number;
  gossipNodes: number;
  /**
   * Gossip rounds push a message in at most this many rounds' worth of
   * transmissions (gossipRounds × gossipNodes); its remaining retransmissions
   * are piggybacked on pings and acks. Infinity: memberlist's behaviour
   * (rounds run whenever anything is queued).
   */
  gossipRounds: number;
  /** Members declared dead stay gossip targets this long, so a wrongly declared member hears it and refutes. */
  gossipToTheDeadMs: number;
  /** A broadcast is piggybacked retransmitMult × ceil(log10(n + 1)) times by each member. */
  retransmitMult: number;
  /** Suspicion timeout floor = suspicionMult × max(1, log10(n)) × probeInterval. */
  suspicionMult: number;
  /** Suspicion timeout ceiling = suspicionMaxTimeoutMult × floor (Lifeguard: shrinks with confirmations). */
  suspicionMaxTimeoutMult: number;
  /** Local health multiplier saturation: timeouts and the probe interval scale by at most this. */
  awarenessMaxMultiplier: number;
  /** Full state exchange with one random live member, scaled up beyond 32 members (memberlist's pushPullScale). */
  pushPullIntervalMs: number;
  /** Try a push-pull with one random dead member this often (Serf's reconnect): heals partitions. */
  reconnectIntervalMs: number;
  /** While a member that joined knows no live member, push-pull with its join seeds again this often (Consul's retry_join). */
  joinRetryMs: number;
  /** Datagram size budget (the UDP transport's MTU-safe maximum). */
  maxPacketBytes: number;
  /** Reserved per datagram for framing and encryption (compound header, nonce, GCM tag, key id). */
  packetOverheadBytes: number;
  /** A tick this much later than the core's own next deadline means the process was paused (GC, SIGSTOP, VM steal). */
  stallThresholdMs: number;
  /** After a stall, no suspicion expires for this long, so the backlog of packets (refutations) is read first. */
  stallGraceMs: number;
  /** A dead member's record (tombstone) is dropped after this long. */
  deadReapMs: number;
  /** A member that left is dropped after this long. */
  leftReapMs: number;
  /** Largest encoded NodeMeta: it rides in every alive message. */
  maxMetaBytes: number;
  /** Largest user broadcast payload. */
  maxUserPayloadBytes: number;
  /** User broadcasts queued beyond this evict the most-retransmitted ones. */
  maxUserQueue: number;
  /** Per origin, user sequence numbers this far below the highest seen are dropped as too old. */
  userDedupWindow: number;
}

/** The LAN profile: one data centre, sub-millisecond RTT, occasional loss and GC pauses. */
export const LAN: Readonly<GossipOptions> = Object.freeze({
  // DESIGN.md: 4× faster than memberlist's 1 s so a dead machine is known in
  // a few seconds. Each member sends ~4 pings/s of ~40 bytes: negligible.
  probeIntervalMs: 250,
  // LAN RTT is < 1 ms, so 100 ms is pure slack for a busy event loop or a GC
  // pause at either end. It must leave room in the 250 ms interval for the
  // indirect round: ping-req → ping → ack relayed (or nack) before the deadline.
  probeTimeoutMs: 100,
  // DESIGN.md starts from memberlist's 3; we measured 4. At 10% loss an
  // indirect path (4 datagrams) fails 34% of the time: 3 paths all fail 4%,
  // 4 paths 1.4%. The 4th helper costs 4 datagrams on the ~4% of probes that
  // reach the indirect round, and saves ~2/3 of loss-induced false
  // suspicions, each of which costs a suspect and a refutation wave through
  // the whole cluster (16 transmissions per member each): 40% fewer bytes
  // at 1,000 members in the simulation.
  indirectChecks: 4,
  // LAN RTT is ~1 ms: no ack after 50 ms means a lost datagram far more
  // often than a slow peer, and a second ping is much cheaper than the
  // indirect round (k ping-reqs, k pings, k acks, k relays). At 10% loss it
  // cuts indirect rounds from 19% of probes to ~4%.
  directRetryMs: 50,
  // A third direct attempt alongside the 4 indirect paths: a live member then
  // misses a whole probe at 10% loss ~1 time in 10,000 (0.19³ × 0.34⁴).
  directRetry: true,
  // Dissemination reaches every member only with high probability (~1 miss
  // in 10^4 members per refutation in the 10%-loss simulation); a member that
  // missed one would kill a live member by its lone 6× timer. One extra probe
  // per declaration buys zero such false positives.
  verifyBeforeDeclare: true,
  // An unconfirmed suspicion rests on one member's evidence and already
  // waited the 6× timeout, so two more probes (+0.5 s) cost nothing, while a
  // probe lost whole (~4% of probes at 30% loss) no longer kills a member.
  verifyUnconfirmedProbes: 3,
  // memberlist's LAN gossip is 200 ms × 3 nodes. At 250 ms probes we halve it
  // so a death spreads to 1,000 members in ~0.6 s (log4(1000) ≈ 5 rounds) and
  // refutations outrun suspicion timers; rounds only run for fresh news (gossipRounds).
  gossipIntervalMs: 100,
  gossipNodes: 3,
  // One push round gives news its exponential head start: every member that
  // hears it tells 3 random members within 100 ms (log4(1000) ≈ 5 rounds to
  // reach all); the other 13 of its 16 transmissions ride on the ~10 probe
  // datagrams each member sends per second anyway. Under steady churn at
  // 1,000 members this sends ~2× fewer datagrams than memberlist's "gossip
  // whenever anything is queued", and the simulation measured no slower
  // spread of deaths (~0.2 s from first to last member).
  gossipRounds: 1,
  // memberlist LAN: a member declared dead by mistake (paused, partitioned)
  // keeps receiving gossip for 30 s, learns it and refutes.
  gossipToTheDeadMs: 30_000,
  // memberlist's 4: 4 × ceil(log10(1001)) = 16 transmissions per member per
  // message reach everyone with overwhelming probability at 10% loss.
  retransmitMult: 4,
  // memberlist's 4: floor = 4 × log10(1000) × 250 ms = 3 s at 1,000 members,
  // 2 s at 100. Long enough for a member paused up to ~2 s to refute; k =
  // mult − 2 = 2 independent confirmations bring the timer down to it.
  suspicionMult: 4,
  // memberlist's 6: a lone suspicion (probably the suspector's own trouble)
  // waits 6× the floor, 18 s at 1,000 members, unless others confirm it.
  suspicionMaxTimeoutMult: 6,
  // memberlist's / Lifeguard's 8: a struggling member probes at most 8× slower
  // (one probe per 2 s) and waits 8× longer for acks.
  awarenessMaxMultiplier: 8,
  // memberlist LAN: 30 s, scaled ×6 at 1,000 members (≈ 5.5 exchanges/s
  // cluster wide, each ~150 KB each way at 1,000 members: ~1 KB/s per member).
  // Anti-entropy only: gossip does the fast path.
  pushPullIntervalMs: 30_000,
  // Serf's reconnect is 30 s; 10 s makes a healed partition converge within
  // ~10 s, at the cost of one failed stream attempt per 10 s per member when
  // the probability (dead/alive) says to try.
  reconnectIntervalMs: 10_000,
  // A member alone (its join reached no seed: one not up yet, a connect timed
  // out on a loaded host) is no use to anyone, and nothing else ever contacts
  // a member nobody knows: try the seeds again every 2 s, about the join's own
  // connect timeout, so attempts to a seed that never answers overlap little.
  joinRetryMs: 2_000,
  // A 1,500-byte Ethernet MTU minus IP/UDP headers and tunnels' overhead.
  maxPacketBytes: 1_400,
  // Compound framing (~16 B) + AES-256-GCM nonce and tag (28 B) + version and
  // key id, rounded up.
  packetOverheadBytes: 64,
  // A timer 1 s late is no event-loop jitter (a busy loop lags by tens of
  // ms): the process was stopped. Well under the 2 s suspicion floor of
  // small clusters, so the guard engages before any suspicion could expire.
  stallThresholdMs: 1_000,
  // Two probe intervals: the driver drains the socket backlog within a few
  // event-loop turns after resuming.
  stallGraceMs: 500,
  // Serf's 24 h reconnect timeout: a machine back from a reboot is found again.
  deadReapMs: 24 * 3600_000,
  // Stale alives of a departed member are long gone after 10 min.
  leftReapMs: 10 * 60_000,
  // memberlist's MetaMaxSize: an alive message with meta must fit a datagram
  // alongside a probe.
  maxMetaBytes: 512,
  // Small facts only (a service endpoint); bulk state belongs in Raft.
  maxUserPayloadBytes: 1_024,
  // 1,024 × ≤ 1 KiB bounds the queue's memory to ~1 MiB.
  maxUserQueue: 1_024,
  // A member sending 4,096 broadcasts within one dissemination time (~1 s) is
  // far beyond the channel's intended rate.
  userDedupWindow: 4_096,
});

/** The WAN profile (memberlist's DefaultWANConfig): RTTs of 100+ ms and lossy paths. */
export const WAN: Readonly<GossipOptions> = Object.freeze({
  ...LAN,
  // memberlist WAN: 5 s / 3 s; a WAN RTT of hundreds of ms plus jitter.
  probeIntervalMs: 5_000,
  probeTimeoutMs: 3_000,
  // Half the probe timeout, like the LAN profile.
  directRetryMs: 1_500,
  // memberlist WAN: 500 ms × 4 nodes.
  gossipIntervalMs: 500,
  gossipNodes: 4,
  // memberlist WAN: 60 s.
  gossipToTheDeadMs: 60_000,
  // memberlist WAN: 6, since false suspicions cost more across regions.
  suspicionMult: 6,
  // memberlist WAN: 60 s.
  pushPullIntervalMs: 60_000,
  // Serf's 30 s.
  reconnectIntervalMs: 30_000,
  // Consul's WAN retry_join interval is 30 s; seeds across regions answer slowly.
  joinRetryMs: 10_000,
  // ticks every 500 ms; 20 missed ones is a stall.
  stallThresholdMs: 10_000,
  stallGraceMs: 5_000,
});

/** The local profile: one machine (tests, `shoal up`): everything fast. */
export const LOCAL: Readonly<GossipOptions> = Object.freeze({
  ...LAN,
  // Loopback RTT is microseconds; 100 ms / 40 ms keeps tests short while
  // tolerating a busy 2-core machine.
  probeIntervalMs: 100,
  probeTimeoutMs: 40,
  directRetryMs: 20,
  // memberlist local: 1 indirect check; 2 keeps the nack logic meaningful in small tests.
  indirectChecks: 2,
  gossipIntervalMs: 50,
  gossipToTheDeadMs: 5_000,
  // memberlist local: 2 and 3.
  retransmitMult: 2,
  suspicionMult: 3,
  pushPullIntervalMs: 5_000,
  reconnectIntervalMs: 2_000,
  joinRetryMs: 500,
  stallThresholdMs: 500,
  stallGraceMs: 200,
});

export const PROFILES = { lan: LAN, wan: WAN, local: LOCAL } as const;
export type ProfileName = keyof typeof PROFILES;

/** Fills `partial` from a profile (default lan) and checks consistency. Throws GossipError INVALID_OPTIONS. */
export function resolveOptions(partial: Partial<GossipOptions> = {}, profile: ProfileName = 'lan'): GossipOptions {
  const o: GossipOptions = { ...PROFILES[profile], ...stripUndefined(partial) };
  const bad = (msg: string): never => {
    throw new GossipError('INVALID_OPTIONS', msg);
  };
  const positive: (keyof GossipOptions)[] = [
    'probeIntervalMs',
    'probeTimeoutMs',
    'gossipIntervalMs',
    'gossipRounds',
    'verifyUnconfirmedProbes',
    'retransmitMult',
    'suspicionMult',
    'suspicionMaxTimeoutMult',
    'awarenessMaxMultiplier',
    'pushPullIntervalMs',
    'reconnectIntervalMs',
    'joinRetryMs',
    'maxPacketBytes',
    'stallThresholdMs',
    'maxMetaBytes',
    'maxUserPayloadBytes',
    'maxUserQueue',
    'userDedupWindow',
  ];
  for (const k of positive) {
    const v = o[k];
    if (typeof v !== 'number' || !(v > 0)) bad(`${k} must be > 0, got ${String(v)}`);
  }
  for (const k of ['directRetryMs', 'indirectChecks', 'gossipNodes', 'gossipToTheDeadMs', 'packetOverheadBytes', 'stallGraceMs', 'deadReapMs', 'leftReapMs'] as const) {
    if (!(o[k] >= 0)) bad(`${k} must be ≥ 0, got ${o[k]}`);
  }
  if (o.probeTimeoutMs >= o.probeIntervalMs) bad('probeTimeoutMs must be below probeIntervalMs (the indirect round needs the rest)');
  if (o.suspicionMaxTimeoutMult < 1) bad('suspicionMaxTimeoutMult must be ≥ 1');
  if (!Number.isInteger(o.awarenessMaxMultiplier)) bad('awarenessMaxMultiplier must be an integer');
  if (o.packetOverheadBytes + 200 > o.maxPacketBytes) bad('maxPacketBytes leaves no room for messages');
  if (o.maxMetaBytes + 200 > o.maxPacketBytes - o.packetOverheadBytes) bad('maxMetaBytes must leave room in a packet for a probe');
  if (o.maxUserPayloadBytes + 100 > o.maxPacketBytes - o.packetOverheadBytes) bad('maxUserPayloadBytes must fit a packet');
  return o;
}

function stripUndefined<T extends object>(p: T): T {
  const out = {} as T;
  for (const k of Object.keys(p) as (keyof T)[]) if (p[k] !== undefined) out[k] = p[k];
  return out;
}

// ---- Derived timings (pure functions of the options and the cluster size) ----

/** Lifeguard/memberlist suspicion floor: mult × max(1, log10(n)) × probeInterval. */
export function suspicionMinMs(o: Pick<GossipOptions, 'suspicionMult' | 'probeIntervalMs'>, n: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.floor(o.suspicionMult * scale * o.probeIntervalMs);
}

export function suspicionMaxMs(o: Pick<GossipOptions, 'suspicionMult' | 'probeIntervalMs' | 'suspicionMaxTimeoutMult'>, n: number): number {
  return o.suspicionMaxTimeoutMult * suspicionMinMs(o, n);
}

/** Confirmations that drive a suspicion to its floor: suspicionMult − 2 (0 when the cluster is too small to have them). */
export function suspicionConfirmationsWanted(o: Pick<GossipOptions, 'suspicionMult'>, n: number): number {
  const k = o.suspicionMult - 2;
  return n - 2 < k ? 0 : Math.max(0, k);
}

/** memberlist: mult × ceil(log10(n + 1)) transmissions of each broadcast by each member. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/** memberlist's pushPullScale: beyond 32 members, ×(ceil(log2 n − log2 32) + 1) so total push-pull traffic grows slowly. */
export function pushPullIntervalFor(intervalMs: number, n: number): number {
  if (n <= 32) return intervalMs;
  return intervalMs * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1);
}
