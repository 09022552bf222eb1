/**
 * The units a user types and reads, with docker's conventions: memory in
 * binary units ("64M" = 64 MiB, as docker's RAMInBytes), CPUs as decimals
 * (0.25 → 250,000,000 NanoCPUs), durations as Go durations ("1m30s",
 * "500ms"; the API wants nanoseconds). Parse errors are UnitError; the flag
 * parsers turn them into CliErrors naming the flag.
 */
import { MAX_REPLICAS } from '../model/objects.js';
import { ShoalError } from '../util/errors.js';

export class UnitError extends ShoalError<'INVALID_VALUE'> {
  override readonly name = 'UnitError';
  readonly ns = 'cli';
  constructor(message: string) {
    super('INVALID_VALUE', message, { status: 400 });
  }
}

const BYTE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** "64M", "1g", "512mb", "1.5GiB", "4096" → bytes (binary multiples, as docker's --memory flags). */
export function parseBytes(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpb]?)(?:i?b)?\s*$/i.exec(s);
  if (!m) throw new UnitError(`invalid size ${JSON.stringify(s)}: use a number with an optional unit, e.g. 64M or 1G`);
  const n = Number(m[1]) * BYTE_UNITS[m[2]!.toLowerCase()]!;
  if (!Number.isSafeInteger(Math.floor(n))) throw new UnitError(`size ${JSON.stringify(s)} is too large`);
  return Math.floor(n);
}

/** "0.25" → 250000000 NanoCPUs (at most 9 decimals, like docker's NanoCPUs flag). */
export function parseCpus(s: string): number {
  if (!/^\s*\d+(\.\d{1,9})?\s*$/.test(s)) throw new UnitError(`invalid CPU count ${JSON.stringify(s)}: use a decimal number of CPUs, e.g. 0.5`);
  return Math.round(Number(s) * 1e9);
}

const NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration: "1h2m3.5s", "250ms", "0" → nanoseconds. A bare number is refused, as in Go. */
export function parseDuration(s: string): number {
  const t = s.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    total += Number(m[1]) * NS[m[2]!]!;
    matched = re.lastIndex;
  }
  if (t === '' || matched !== t.length) throw new UnitError(`invalid duration ${JSON.stringify(s)}: use e.g. 10s, 1m30s or 500ms`);
  return Math.round(total);
}

/** A ratio from 0 to 1 (docker's --update-max-failure-ratio). */
export function parseRatio(s: string): number {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v) || v < 0 || v > 1) throw new UnitError(`must be a number from 0 to 1, got ${JSON.stringify(s)}`);
  return v;
}

/** A non-negative integer flag value. */
export function parseCount(s: string): number {
  if (!/^\s*\d+\s*$/.test(s)) throw new UnitError(`${JSON.stringify(s)} is not a non-negative integer`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new UnitError(`${s} is too large`);
  return n;
}

/** A replica count (`--replicas`, `service scale web=N`): a count no larger than MAX_REPLICAS. */
export function parseReplicas(s: string): number {
  const n = parseCount(s);
  if (n > MAX_REPLICAS) throw new UnitError(`${s} is more than ${MAX_REPLICAS}, the most tasks one service may have`);
  return n;
}

/** Bytes as docker prints them (units.BytesSize: binary, 3 significant digits): 4.002GiB, 64MiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(4))}${units[i]}`;
}

/** Nanoseconds back into a Go duration string ("1m30s", "500ms", "0s"), for inspect --pretty. */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e9) return ns % 1e6 === 0 ? `${ns / 1e6}ms` : `${ns / 1e3}µs`;
  let s = ns / 1e9;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${Number(s.toFixed(9))}s`;
}

/** Docker's units.HumanDuration: how long ago, in words ("5 seconds", "About a minute", "2 hours"). */
export function humanDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const min = Math.round(s / 60);
  if (min === 1) return 'About a minute';
  if (min < 60) return `${min} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}
