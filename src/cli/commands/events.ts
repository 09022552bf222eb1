/**
 * `shoal events [--since T] [--until T] [-f k=v …] [--format json]`: the
 * cluster's event stream (GET /events), printed as `docker events` prints
 * it. When the manager it reads from goes away (a leader killed, a manager
 * restarted), it reconnects to another manager of the cluster and resumes
 * right after the last event it printed, by Raft position (`after=`), so
 * nothing is missed and nothing printed twice.
 */
import type { Command } from 'commander';
import { encodeFilters } from '../client.js';
import { CliError } from '../errors.js';
import { clientFor } from '../host.js';
import { collect, filterMap, out, warn } from './common.js';
import { parseDuration } from '../units.js';

interface EventMsg {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> };
  timeNano: number;
  RaftIndex?: number;
  Seq?: number;
}

interface Flags {
  since?: string;
  until?: string;
  filter?: string[];
  format?: string;
}

/** How long to keep trying other managers after a stream breaks before giving up. */
const RECONNECT_DEADLINE_MS = 30_000;

/** docker's --since/--until: a Unix timestamp, an RFC 3339 time, or a duration back from now (10m). */
export function eventTime(v: string, flag: string, nowMs = Date.now()): string {
  if (/^\d+(\.\d+)?$/.test(v)) return v;
  const t = Date.parse(v);
  if (Number.isFinite(t)) return (t / 1000).toFixed(9);
  try {
    return ((nowMs - parseDuration(v)) / 1000).toFixed(9);
  } catch {
    throw new CliError(`${flag}: expected a Unix timestamp, an RFC 3339 time or a duration (10m), got ${JSON.stringify(v)}`);
  }
}

/** docker's line: `TIME TYPE ACTION ID (k=v, …)`, the time with nanoseconds. */
export function eventLine(e: EventMsg): string {
  const ms = Math.floor(e.timeNano / 1e6);
  const nanos = String(e.timeNano % 1e9).padStart(9, '0');
  const time = new Date(ms).toISOString().replace(/\.\d{3}Z$/, `.${nanos}Z`);
  const attrs = Object.entries(e.Actor.Attributes ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `${time} ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}\n`;
}

export function registerEvents(program: Command): void {
  program
    .command('events')
    .description('stream the cluster’s events (services, nodes, tasks, networks, secrets, configs), as `docker events`; follows the cluster across a leader change')
    .option('--since <time>', 'also show held events since this time (Unix timestamp, RFC 3339, or a duration back: 10m)')
    .option('--until <time>', 'stop at this time')
    .option('-f, --filter <k=v>', 'type=service|node|task|network|secret|config, event=create|update|remove, service=, node=, … (repeatable)', collect)
    .option('--format <fmt>', 'json: one JSON object per line (default: docker’s text lines)')
    .action(async (f: Flags, cmd: Command) => {
      if (f.format !== undefined && f.format !== 'json') throw new CliError(`--format: only json is supported for events, got ${JSON.stringify(f.format)}`);
      const client = clientFor(cmd);
      const base = {
        ...(f.since ? { since: eventTime(f.since, '--since') } : {}),
        ...(f.until ? { until: eventTime(f.until, '--until') } : {}),
        ...(f.filter?.length ? { filters: encodeFilters(filterMap(f.filter)) } : {}),
      };
      let after: string | undefined;
      let brokeAt: number | null = null;
      for (;;) {
        let res;
        try {
          res = await client.stream('/events', { ...base, ...(after ? { after } : {}) });
        } catch (err) {
          // Unreachable right now: another manager may take over; keep trying for a while.
          // A 4xx (a bad filter, a position no manager holds) is final.
          const refused = err instanceof CliError && err.apiCode !== undefined && err.status >= 400 && err.status < 500;
          if (brokeAt !== null && Date.now() - brokeAt < RECONNECT_DEADLINE_MS && !refused) {
            await new Promise((r) => setTimeout(r, 250));
            continue;
          }
          throw err;
        }
        brokeAt = null;
        let buf = '';
        const ended = await new Promise<'end' | 'error'>((resolve) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              if (!line.trim()) continue;
              const e = JSON.parse(line) as EventMsg;
              if (e.RaftIndex !== undefined) after = `${e.RaftIndex}.${e.Seq ?? 0}`;
              out(f.format === 'json' ? `${line}\n` : eventLine(e));
            }
          });
          res.once('end', () => resolve(res.complete ? 'end' : 'error'));
          res.once('error', () => resolve('error'));
          res.once('aborted', () => resolve('error'));
        });
        // A clean end is the server's: --until was reached.
        if (ended === 'end' && f.until) return;
        warn(`shoal: the event stream from ${client.host} ended; resuming on another manager${after ? ` after ${after}` : ''}\n`);
        brokeAt = Date.now();
        // Since was applied once; from here on the position says where to resume.
        if (after) delete (base as { since?: string }).since;
      }
    });
}
