/**
 * Formatting of simulation results: the benchmark's JSON line and a
 * human-readable summary for replays and failing tests.
 */
import { percentile, type SimResult } from './cluster.js';

export interface BenchFigures {
  members: number;
  detect_first_p99_ms: number;
  detect_all_p50_ms: number;
  detect_all_p99_ms: number;
  false_positives: number;
  sim_minutes: number;
  loss: number;
  paused_fraction: number;
  bytes_per_member_per_s: number;
}

export function figures(r: SimResult, loss: number, pausedFraction: number): BenchFigures {
  return {
    members: r.members,
    detect_first_p99_ms: percentile(r.detectFirst, 99),
    detect_all_p50_ms: percentile(r.detectAll, 50),
    detect_all_p99_ms: percentile(r.detectAll, 99),
    false_positives: r.falsePositives.length,
    sim_minutes: r.simMs / 60_000,
    loss,
    paused_fraction: pausedFraction,
    bytes_per_member_per_s: Math.round(r.bytesPerMemberPerS),
  };
}

export function summary(r: SimResult): string {
  const m = r.metrics;
  const f = (xs: number[]): string =>
    xs.length === 0 ? 'n/a' : `p50 ${percentile(xs, 50)} / p99 ${percentile(xs, 99)} / max ${percentile(xs, 100)} ms (${xs.length})`;
  return [
    `members ${r.members}, ${(r.simMs / 1000).toFixed(0)} s simulated in ${(r.wallMs / 1000).toFixed(1)} s wall (${(r.cpuMs / 1000).toFixed(1)} s CPU)`,
    `detect first: ${f(r.detectFirst)}`,
    `detect all:   ${f(r.detectAll)}`,
    `false positives ${r.falsePositives.length}, excused deaths (paused/partitioned) ${r.excusedDeaths}, undetected crashes ${r.undetected.length}, view mismatches ${r.viewMismatches}`,
    `packets ${r.packets}, udp ${(r.udpBytes / 1e6).toFixed(1)} MB, push-pull ${(r.pushPullBytes / 1e6).toFixed(1)} MB, ${Math.round(r.bytesPerMemberPerS)} B/member/s, backlog drops ${r.backlogDrops}`,
    `probes ${m.probes} (failed ${m.probesFailed}, indirect ${m.indirectProbes}, abandoned on stall ${m.probesAbandoned}), suspicions raised ${m.suspicionsRaised}, refuted ${m.refutations}, confirmations ${m.confirmations}, deaths declared ${m.deathsDeclared}, stalls ${m.stalls}`,
    `piggybacked ${m.piggybacked}, invalidated ${m.broadcastsInvalidated}, push-pulls ${m.pushPullsStarted}/${m.pushPullsMerged}, dropped ${JSON.stringify(m.dropped)}`,
  ].join('\n');
}
