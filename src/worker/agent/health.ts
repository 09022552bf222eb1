/**
 * Health checks with Docker's semantics (HEALTHCHECK / ContainerSpec.HealthCheck),
 * the same on every runtime: the check runs through the runtime's `exec`, so
 * inside an oci or docker task's namespaces, and for a process task as a host
 * process with its environment, directory, user and cgroups.
 *
 * - Status starts `starting`. The first check runs one interval after the
 *   task started (StartInterval during StartPeriod, else Interval), and each
 *   next one an interval after the previous one ended: checks never overlap.
 * - A check passes when it exits 0 within Timeout.
 * - A pass makes the task `healthy` and ends the start period.
 * - A failure inside the start period does not count. Outside it, Retries
 *   failures in a row make the task `unhealthy` (and the monitor stops: the
 *   agent fails the task, and the restart policy takes over).
 *
 * Timers come from outside, so the state machine runs on simulated time in
 * tests.
 */
import type { HealthConfig } from '../../model/index.js';
import type { TimerHandle, Timers } from '../../util/timers.js';

export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

/** Docker's defaults (api/types/container: DefaultHealthInterval etc.). */
export const HEALTH_DEFAULTS = {
  intervalMs: 30_000,
  timeoutMs: 30_000,
  retries: 3,
  startIntervalMs: 5_000,
} as const;

export interface HealthPolicy {
  /** argv to exec in the task. */
  cmd: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
  startIntervalMs: number;
}

/**
 * The check a task runs: its service's, over its image's HEALTHCHECK field by
 * field, as Docker merges them (a service's empty Test or zero durations take
 * the image's; ["NONE"] turns the image's off).
 */
export function mergeHealth(image: HealthConfig | undefined, service: HealthConfig | undefined): HealthConfig | undefined {
  if (!image) return service;
  if (!service) return image;
  const out: HealthConfig = { ...service };
  if (!service.Test?.length) out.Test = image.Test;
  for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries'] as const) if (!service[k] && image[k]) out[k] = image[k];
  return out;
}

const nsToMs = (ns: number | undefined, dflt: number): number => (ns && ns > 0 ? Math.max(1, Math.round(ns / 1e6)) : dflt);

/** The policy a task's HealthCheck asks for; null when it has none (absent, empty, or ["NONE"]). */
export function healthPolicy(hc: HealthConfig | undefined): HealthPolicy | null {
  const test = hc?.Test ?? [];
  if (test.length === 0 || test[0] === 'NONE') return null;
  let cmd: string[];
  if (test[0] === 'CMD') cmd = test.slice(1);
  else if (test[0] === 'CMD-SHELL') cmd = ['/bin/sh', '-c', test.slice(1).join(' ')];
  else return null; // refused by the API's validation; never here
  if (cmd.length === 0) return null;
  return {
    cmd,
    intervalMs: nsToMs(hc?.Interval, HEALTH_DEFAULTS.intervalMs),
    timeoutMs: nsToMs(hc?.Timeout, HEALTH_DEFAULTS.timeoutMs),
    retries: hc?.Retries && hc.Retries > 0 ? hc.Retries : HEALTH_DEFAULTS.retries,
    startPeriodMs: nsToMs(hc?.StartPeriod, 0),
    startIntervalMs: nsToMs(hc?.StartInterval, HEALTH_DEFAULTS.startIntervalMs),
  };
}

export interface HealthReport {
  status: HealthStatus;
  failingStreak: number;
  /** The last check's output (trimmed, capped), or why it failed (timeout, exec error). */
  lastOutput: string;
}

export type HealthProbe = (cmd: string[], timeoutMs: number) => Promise<{ exitCode: number; output: string }>;

export class HealthMonitor {
  private status: HealthStatus = 'starting';
  private streak = 0;
  private lastOutput = '';
  private readonly startedAt: number;
  /** A check has passed: the start period is over for good (Docker). */
  private passedOnce = false;
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(
    private readonly policy: HealthPolicy,
    private readonly probe: HealthProbe,
    private readonly timers: Timers,
    /** Called on every status change (starting → healthy, healthy ↔ …, → unhealthy). */
    private readonly onChange: (r: HealthReport) => void,
  ) {
    this.startedAt = timers.now();
  }

  /** Failures are forgiven and checks run every StartInterval until the first pass or the end of StartPeriod. */
  private inStartPeriod(): boolean {
    return !this.passedOnce && this.timers.now() - this.startedAt < this.policy.startPeriodMs;
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    this.timers.clear(this.timer);
    this.timer = null;
  }

  report(): HealthReport {
    return { status: this.status, failingStreak: this.streak, lastOutput: this.lastOutput };
  }

  private schedule(): void {
    if (this.stopped) return;
    const wait = this.inStartPeriod() ? this.policy.startIntervalMs : this.policy.intervalMs;
    this.timer = this.timers.setTimeout(() => void this.check(), wait);
  }

  private async check(): Promise<void> {
    this.timer = null;
    if (this.stopped) return;
    let passed: boolean;
    try {
      const r = await this.probe(this.policy.cmd, this.policy.timeoutMs);
      passed = r.exitCode === 0;
      this.lastOutput = tidy(r.output) || `exit ${r.exitCode}`;
    } catch (err) {
      passed = false;
      this.lastOutput = tidy((err as Error)?.message ?? String(err));
    }
    if (this.stopped) return;
    const before = this.status;
    if (passed) {
      this.streak = 0;
      this.passedOnce = true;
      this.status = 'healthy';
    } else if (!this.inStartPeriod()) {
      this.streak++;
      if (this.streak >= this.policy.retries) this.status = 'unhealthy';
    }
    if (this.status !== before) this.onChange(this.report());
    if (this.status === 'unhealthy') return this.stop();
    this.schedule();
  }
}

function tidy(s: string): string {
  return s.trim().slice(-500);
}
