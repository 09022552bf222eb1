/** Options of a chaos run, their defaults, and parsing of the CLI's values. */
import { ChaosError } from './errors.js';

export interface ChaosRunOptions {
  /** Seeds the fault schedule and the workload. */
  seed: number;
  /** A name from scenario.ts; `all` mixes every fault kind. */
  scenario: string;
  /** Length of the fault phase (the workload runs through it), ms. */
  durationMs: number;
  /** Keep injecting past the duration until this many faults were injected (default 0: stop at the duration). */
  minFaults?: number;
  managers: number;
  workers: number;
  /** Each node in its own network namespace linked by veth to a bridge (root only); partitions cut real links. */
  netns?: boolean;
  /** Where report.json, the history and the node logs go (default: a new dir under the OS temp dir). */
  outDir?: string;
  /** Self-test only: run a deliberately broken build (SHOAL_CHAOS_BREAK). */
  break?: string;
  /** Concurrent KV clients. */
  clients?: number;
  /** How long after the faults stop the cluster has to converge, ms. */
  convergeMs?: number;
  /** Budget of the linearizability check, ms. */
  checkTimeoutMs?: number;
  /** 127.0.<subnet>.x for the nodes (default: from the pid). */
  subnet?: number;
  /** Progress lines (default: stderr). */
  log?: (msg: string) => void;
}

export const DEFAULTS = { scenario: 'all', durationMs: 60_000, managers: 3, workers: 4, clients: 4, convergeMs: 60_000, checkTimeoutMs: 60_000 } as const;

/** "60s", "2m", "1500ms" or a bare number of seconds. */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v.trim());
  if (!m) throw new ChaosError('USAGE', `--duration must look like 60s, 2m or 1500ms, got ${JSON.stringify(v)}`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1_000);
}

export function parseCount(v: string, flag: string, min: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new ChaosError('USAGE', `${flag} must be a whole number >= ${min}, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function parseSeed(v: string | undefined): number {
  if (v === undefined) return Math.floor(Math.random() * 2 ** 31);
  if (!/^\d+$/.test(v) || Number(v) > 2 ** 53) throw new ChaosError('USAGE', `--seed must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** The one command that replays a run. */
export function replayCommand(o: ChaosRunOptions): string {
  const d = o.durationMs % 1000 === 0 ? `${o.durationMs / 1000}s` : `${o.durationMs}ms`;
  return `npm run chaos -- --scenario ${o.scenario} --seed ${o.seed} --duration ${d} --managers ${o.managers} --workers ${o.workers}${o.netns ? ' --netns' : ''}${o.break ? ` --break ${o.break}` : ''}`;
}
