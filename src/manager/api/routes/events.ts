/**
 * GET /events: the Engine API's event stream (`docker events`), made from
 * the store's changes on this manager (manager/events/). JSON messages, one
 * per line: the held ones matching `since` (and `after`), then new ones as
 * they are applied, until `until` or the client leaves.
 *
 * `after=INDEX.SEQ` (Shoal's): resume right after the event at that Raft
 * position, on any manager; every event carries its RaftIndex and Seq. A
 * position older than what this manager holds is a 400, never a silent gap.
 */
import type { ServerResponse } from 'node:http';
import type { EngineEvent } from '../../events/event.js';
import { EventGapError, isAfter, type EventPosition } from '../../events/event-log.js';
import { badRequest } from '../errors.js';
import { parseFilters, type Filters } from '../filters.js';
import type { Deps } from '../options.js';
import type { Router } from '../router.js';

const FILTERS = ['type', 'event', 'scope', 'service', 'node', 'task', 'network', 'secret', 'config'] as const;
/** A reader this far behind (bytes its socket has not taken) is cut off with the stream ended: the manager does not buffer without end. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

function parseTime(raw: string | null, field: string): number | null {
  if (raw === null || raw === '') return null;
  const ms = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw);
  if (!Number.isFinite(ms)) throw badRequest(`expected a Unix timestamp (seconds[.nanoseconds]) or an RFC 3339 time, got ${JSON.stringify(raw)}`, field);
  return ms;
}

function parseAfter(raw: string | null): EventPosition | null {
  if (raw === null || raw === '') return null;
  const m = /^(\d+)(?:\.(\d+))?$/.exec(raw);
  if (!m) throw badRequest(`expected INDEX or INDEX.SEQ (an event's RaftIndex and Seq), got ${JSON.stringify(raw)}`, 'after');
  return { index: Number(m[1]), seq: m[2] === undefined ? Number.MAX_SAFE_INTEGER : Number(m[2]) };
}

/** Docker's event filters: values of one key are alternatives, keys combine; object filters match an ID prefix or the name. */
function matcher(f: Filters): (e: EngineEvent) => boolean {
  const objectKeys = ['service', 'node', 'task', 'network', 'secret', 'config'] as const;
  return (e) => {
    if (!f.exact('type', e.Type) || !f.exact('event', e.Action) || !f.exact('scope', e.scope)) return false;
    for (const k of objectKeys) {
      if (!f.has(k)) continue;
      const own = e.Type === k && f.get(k).some((w) => e.Actor.ID.startsWith(w) || e.Actor.Attributes.name === w);
      // A task event belongs to its service and its node too.
      const viaTask = e.Type === 'task' && f.get(k).some((w) => (k === 'service' && e.Actor.Attributes['com.docker.swarm.service.id']?.startsWith(w)) || (k === 'node' && e.Actor.Attributes['com.docker.swarm.node.id']?.startsWith(w)));
      if (!own && !viaTask) return false;
    }
    return true;
  };
}

export function eventRoutes(r: Router, d: Deps): void {
  r.add('GET', '/events', (req) => {
    const q = req.query;
    const since = parseTime(q.get('since'), 'since');
    const until = parseTime(q.get('until'), 'until');
    const after = parseAfter(q.get('after'));
    const keep = matcher(parseFilters(q.get('filters'), FILTERS));
    const inTime = (e: EngineEvent) => (since === null || e.timeNano / 1e6 >= since) && (until === null || e.timeNano / 1e6 <= until);
    let held: EngineEvent[];
    try {
      // Without since or after, only new events (docker's default).
      held = since === null && after === null ? [] : d.events.history(after, (e) => keep(e) && inTime(e));
    } catch (err) {
      if (err instanceof EventGapError) throw badRequest(err.message, 'after');
      throw err;
    }
    return {
      headers: { 'Content-Type': 'application/json' },
      stream: (res: ServerResponse) =>
        new Promise<void>((done) => {
          let last: EventPosition | null = after;
          let ended = false;
          const finish = () => {
            if (ended) return;
            ended = true;
            off();
            if (timer) clearTimeout(timer);
            done();
          };
          const send = (e: EngineEvent) => {
            if (ended) return;
            if (last && !isAfter(e, last)) return;
            last = { index: e.RaftIndex, seq: e.Seq };
            res.write(JSON.stringify(e) + '\n');
            if (res.writableLength > MAX_BUFFERED_BYTES) {
              d.log.warn(`an events reader fell ${res.writableLength} bytes behind; its stream is ended`);
              finish();
            }
          };
          // Subscribe before writing what is held, so nothing applied in between is missed (send() skips repeats by position).
          const off = d.events.subscribe((e) => {
            if (keep(e) && inTime(e)) send(e);
          });
          for (const e of held) send(e);
          const nowMs = Date.now();
          const timer = until === null ? null : setTimeout(finish, Math.max(0, until - nowMs));
          res.once('close', finish);
        }),
    };
  });
}
