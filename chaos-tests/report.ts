/**
 * The run's report: per fault kind the count injected and recovery times,
 * each checker's verdict, the seed — as JSON (report.json in the run dir),
 * as a human table, and as the one summary line every run ends with.
 */
import type { Verdict } from './checkers/verdict.js';
import type { FaultKind, FaultRecord } from './faults/types.js';
import { percentile, type Recovery } from './recovery.js';

export interface Stat {
  n: number;
  p50: number | null;
  p99: number | null;
  /** Recoveries that never came within the run. */
  never: number;
}

export interface KindSummary {
  injected: number;
  skipped: number;
  failover?: Stat;
  reschedule?: Stat;
  heal?: Stat;
}

export interface SummaryLine {
  seed: number;
  faults: number;
  acked_writes_lost: number;
  linearizable: boolean;
  converged: boolean;
  failover_p99_ms: number | null;
  reschedule_p99_ms: number | null;
}

export interface ChaosReport {
  seed: number;
  scenario: string;
  durationMs: number;
  managers: number;
  workers: number;
  break: string | null;
  runDir: string;
  startedAt: string;
  faults: (FaultRecord & { recovery: Recovery })[];
  byKind: Partial<Record<FaultKind, KindSummary>>;
  droppedKinds: string[];
  workload: { kvOps: number; kvAcked: number; kvUnknown: number; serviceOps: number; serviceAcked: number };
  figures: {
    failover: Stat;
    reschedule: Stat;
    heal: Stat;
    convergeMs: number | null;
    agreeMs: number | null;
    maxOverlapRealMs: number | null;
    maxOverlapApiMs: number | null;
  };
  checkers: Verdict[];
  pass: boolean;
  replay: string;
  summary: SummaryLine;
}

export function stat(values: (number | null | undefined)[]): Stat {
  const got = values.filter((v): v is number => typeof v === 'number');
  return { n: got.length, p50: percentile(got, 0.5), p99: percentile(got, 0.99), never: values.filter((v) => v === null).length };
}

export function summarizeKinds(faults: (FaultRecord & { recovery: Recovery })[]): Partial<Record<FaultKind, KindSummary>> {
  const out: Partial<Record<FaultKind, KindSummary>> = {};
  const kinds = [...new Set(faults.map((f) => f.kind))];
  for (const k of kinds) {
    const fs = faults.filter((f) => f.kind === k);
    const done = fs.filter((f) => !f.skipped);
    const s: KindSummary = { injected: done.length, skipped: fs.length - done.length };
    const fo = done.filter((f) => f.recovery.failoverMs !== undefined).map((f) => f.recovery.failoverMs);
    const rs = done.filter((f) => f.recovery.rescheduleMs !== undefined).map((f) => f.recovery.rescheduleMs);
    const hl = done.filter((f) => f.recovery.healMs !== undefined).map((f) => f.recovery.healMs);
    if (fo.length) s.failover = stat(fo);
    if (rs.length) s.reschedule = stat(rs);
    if (hl.length) s.heal = stat(hl);
    out[k] = s;
  }
  return out;
}

const fmt = (s: Stat | undefined): string => (!s || (s.n === 0 && s.never === 0) ? '-' : s.n === 0 ? `never x${s.never}` : `${s.p50} / ${s.p99}${s.never ? ` (+${s.never} never)` : ''}`);

/** The human-readable table. */
export function formatReport(r: ChaosReport): string {
  const lines: string[] = [];
  lines.push(`chaos run: scenario ${r.scenario}, seed ${r.seed}, ${r.durationMs / 1000} s of faults, ${r.managers} managers + ${r.workers} workers${r.break ? `, BROKEN BUILD ${r.break}` : ''}`);
  lines.push(`run dir: ${r.runDir}`);
  if (r.droppedKinds.length) lines.push(`fault kinds not run here: ${r.droppedKinds.join(', ')}`);
  lines.push('');
  const rows: string[][] = [['fault', 'injected', 'failover p50/p99 ms', 'reschedule p50/p99 ms', 'heal p50/p99 ms']];
  for (const [k, s] of Object.entries(r.byKind)) rows.push([k, `${s!.injected}${s!.skipped ? ` (+${s!.skipped} skipped)` : ''}`, fmt(s!.failover), fmt(s!.reschedule), fmt(s!.heal)]);
  rows.push(['all', String(r.summary.faults), fmt(r.figures.failover), fmt(r.figures.reschedule), fmt(r.figures.heal)]);
  lines.push(...table(rows));
  lines.push('');
  lines.push(
    `workload: ${r.workload.kvOps} KV operations (${r.workload.kvAcked} acknowledged, ${r.workload.kvUnknown} unknown outcome), ${r.workload.serviceOps} service operations (${r.workload.serviceAcked} acknowledged)`,
  );
  lines.push(`managers agreed ${r.figures.agreeMs ?? 'never'} ms after the faults stopped; converged ${r.figures.convergeMs ?? 'never'} ms after`);
  lines.push('');
  lines.push(...table([['checker', 'verdict', 'summary'], ...r.checkers.map((c) => [c.name, c.pass ? 'PASS' : c.advisory ? 'WARN' : 'FAIL', c.summary])]));
  for (const c of r.checkers) {
    if (c.pass || c.details.length === 0) continue;
    lines.push('', `${c.name} ${c.advisory ? '(advisory)' : 'failed'}:`);
    for (const d of c.details.slice(0, 12)) lines.push(...d.split('\n').map((l) => `  ${l}`));
    if (c.details.length > 12) lines.push(`  … ${c.details.length - 12} more in report.json`);
  }
  lines.push('');
  lines.push(r.pass ? 'PASS' : `FAIL — replay with: ${r.replay}`);
  return lines.join('\n');
}

function table(rows: string[][]): string[] {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r, j) => {
    const line = r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
    return j === 0 ? `${line}\n${w.map((n) => '-'.repeat(n)).join('  ')}` : line;
  });
}

/** The last line of every run, exactly these keys in this order. */
export function summaryLine(s: SummaryLine): string {
  return JSON.stringify({
    seed: s.seed,
    faults: s.faults,
    acked_writes_lost: s.acked_writes_lost,
    linearizable: s.linearizable,
    converged: s.converged,
    failover_p99_ms: s.failover_p99_ms,
    reschedule_p99_ms: s.reschedule_p99_ms,
  });
}
