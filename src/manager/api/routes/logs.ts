/**
 * GET /services/{id}/logs and GET /tasks/{id}/logs: the tasks' output, read
 * from the nodes that ran them (ManagerContext.taskLogs), written in
 * Docker's multiplexed stream format — each frame an 8-byte header
 * [stream (1 stdout, 2 stderr), 0, 0, 0, size BE32] and the line. With
 * `details=true` every line starts with the `com.docker.swarm.*` ids the
 * docker CLI turns into `web.1.<task>@node |` prefixes; with
 * `timestamps=true`, an RFC 3339 time comes first, as dockerd writes it.
 */
import type { ServerResponse } from 'node:http';
import type { TaskLogLine } from '../../logs.js';
import type { Task } from '../../../model/index.js';
import { badRequest, notImplemented, unavailable } from '../errors.js';
import { isLogLevel, LOG_LEVELS } from '../../../util/log/interface.js';
import { boolParam } from '../http.js';
import { LogResponseWriter } from '../log-writer.js';
import type { Deps } from '../options.js';
import { resolve } from '../resolve.js';
import type { ApiRequest, ApiResponse, Router } from '../router.js';
import { readStore } from '../state.js';

export function logRoutes(r: Router, d: Deps): void {
  const { ctx } = d;
  r.add('GET', '/services/:id/logs', async (req) => {
    const store = await readStore(ctx);
    const svc = resolve(store, 'service', req.params.id!);
    const tasks = store.tasksOfService(svc.ID).sort((a, b) => a.Slot - b.Slot || a.CreatedAt.localeCompare(b.CreatedAt));
    return logsResponse(d, req, tasks, svc.Spec.TaskTemplate.ContainerSpec?.TTY === true);
  });
  r.add('GET', '/tasks/:id/logs', async (req) => {
    const store = await readStore(ctx);
    const task = resolve(store, 'task', req.params.id!);
    return logsResponse(d, req, [task], task.Spec.ContainerSpec?.TTY === true);
  });
  r.add('GET', '/shoal/nodes/:id/logs', (req) => nodeLogsResponse(d, req));
}

/** `tail`: "all" (or absent) or a count. */
function tailParam(q: URLSearchParams): number | undefined {
  const raw = q.get('tail');
  if (raw === null || raw === '' || raw === 'all') return undefined;
  const tail = Number(raw);
  if (!Number.isInteger(tail) || tail < 0) throw badRequest(`expected "all" or a non-negative integer, got ${JSON.stringify(raw)}`, 'tail');
  return tail;
}

/** `since`: a Unix timestamp (seconds, fractions allowed) or an RFC 3339 time; ms since the epoch. */
function sinceParam(q: URLSearchParams): number | undefined {
  const raw = q.get('since');
  if (!raw || raw === '0') return undefined;
  const ms = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) * 1000 : Date.parse(raw);
  if (!Number.isFinite(ms)) throw badRequest(`expected a Unix timestamp or RFC 3339 time, got ${JSON.stringify(raw)}`, 'since');
  return ms;
}

/**
 * GET /shoal/nodes/{id}/logs: the node's own log (`shoal node logs`), as
 * newline-delimited JSON records, oldest first; `tail`, `since`, `follow`,
 * `level` (that level or worse) and `component` narrow it. Read from the
 * node over the cluster transport (503 when it cannot be reached).
 */
async function nodeLogsResponse(d: Deps, req: ApiRequest): Promise<ApiResponse> {
  const { ctx } = d;
  if (!ctx.nodeLogs) throw notImplemented('node logs need a manager with a cluster transport');
  const store = await readStore(ctx);
  const ref = req.params.id!;
  // `self`: the manager serving the request, as in `docker node inspect self`.
  const node = resolve(store, 'node', ref === 'self' && !store.find('node', 'self') ? ctx.status().nodeId : ref);
  const q = req.query;
  const level = q.get('level') ?? undefined;
  if (level !== undefined && !isLogLevel(level)) throw badRequest(`expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`, 'level');
  const component = q.get('component') ?? undefined;
  if (component !== undefined && !/^[a-z][a-z0-9-]{0,63}$/.test(component)) throw badRequest(`expected a component name such as raft or agent, got ${JSON.stringify(component)}`, 'component');
  const tail = tailParam(q);
  const sinceMs = sinceParam(q);
  const query = { follow: boolParam(q, 'follow'), ...(tail !== undefined ? { tail } : {}), ...(sinceMs !== undefined ? { sinceMs } : {}), ...(level ? { minLevel: level } : {}), ...(component ? { component } : {}) };
  const ac = new AbortController();
  let pump;
  try {
    pump = await ctx.nodeLogs(node.ID, query, ac.signal);
  } catch (err) {
    throw unavailable((err as Error).message);
  }
  return {
    headers: { 'Content-Type': 'application/x-ndjson' },
    stream: async (res: ServerResponse) => {
      res.on('close', () => ac.abort());
      const out = new LogResponseWriter(res, {
        maxBufferedBytes: d.maxLogBufferBytes,
        metrics: d.metrics,
        onDrop: () => ac.abort(),
        dropFrame: (behind) => Buffer.from(`${JSON.stringify({ level: 'error', time: new Date().toISOString(), node: node.ID, component: 'api', msg: `log stream ended by the manager: this reader fell ${behind} bytes behind (the limit is ${d.maxLogBufferBytes})` })}\n`),
      });
      await pump((line) => out.write(Buffer.from(line))).catch((err: Error) => {
        out.write(Buffer.from(`${JSON.stringify({ level: 'error', time: new Date().toISOString(), node: node.ID, component: 'api', msg: err.message })}\n`));
      });
      ac.abort();
      await out.flushed();
    },
  };
}

function logsResponse(d: Deps, req: ApiRequest, tasks: Task[], tty: boolean): ApiResponse {
  const { ctx } = d;
  if (!ctx.taskLogs) throw notImplemented('logs need a manager with a cluster transport');
  const q = req.query;
  const wantOut = q.has('stdout') ? boolParam(q, 'stdout') : true;
  const wantErr = q.has('stderr') ? boolParam(q, 'stderr') : true;
  if (!wantOut && !wantErr) throw badRequest('you must choose at least one stream (stdout or stderr)', 'stdout');
  const follow = boolParam(q, 'follow');
  const timestamps = boolParam(q, 'timestamps');
  const details = boolParam(q, 'details');
  const tail = tailParam(q);
  const sinceMs = sinceParam(q);
  const getLogs = ctx.taskLogs.bind(ctx);
  const frame = (stream: 'stdout' | 'stderr', payload: Buffer): Buffer => {
    if (tty) return payload;
    const head = Buffer.alloc(8);
    head[0] = stream === 'stdout' ? 1 : 2;
    head.writeUInt32BE(payload.length, 4);
    return Buffer.concat([head, payload]);
  };
  return {
    headers: { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' },
    stream: async (res: ServerResponse) => {
      const ac = new AbortController();
      res.on('close', () => ac.abort());
      const out = new LogResponseWriter(res, {
        maxBufferedBytes: d.maxLogBufferBytes,
        metrics: d.metrics,
        onDrop: () => ac.abort(),
        dropFrame: (behind) =>
          frame(
            'stderr',
            Buffer.from(
              `shoal: log stream ended by the manager: this reader fell ${behind} bytes behind (the limit is ${d.maxLogBufferBytes}); read faster, or ask for less with --tail or --since\n`,
            ),
          ),
      });
      const write = (l: TaskLogLine) => {
        if ((l.stream === 'stdout' && !wantOut) || (l.stream === 'stderr' && !wantErr)) return;
        const prefix =
          (timestamps ? `${new Date(l.time).toISOString()} ` : '') +
          (details ? `com.docker.swarm.node.id=${l.task.NodeID},com.docker.swarm.service.id=${l.task.ServiceID},com.docker.swarm.task.id=${l.task.ID} ` : '');
        out.write(frame(l.stream, Buffer.from(`${prefix}${l.line}\n`)));
      };
      await getLogs(tasks, { follow, ...(tail !== undefined ? { tail } : {}), ...(sinceMs !== undefined ? { sinceMs } : {}) }, write, ac.signal);
      // What the reader has not taken yet is still queued here: hand it over before the response ends.
      await out.flushed();
    },
  };
}
