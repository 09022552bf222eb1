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
import type { ManagerContext } from '../../interface.js';
import type { TaskLogLine } from '../../logs.js';
import type { Task } from '../../../model/index.js';
import { badRequest, notImplemented } from '../errors.js';
import { boolParam } from '../http.js';
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
    return logsResponse(ctx, req, tasks, svc.Spec.TaskTemplate.ContainerSpec?.TTY === true);
  });
  r.add('GET', '/tasks/:id/logs', async (req) => {
    const store = await readStore(ctx);
    const task = resolve(store, 'task', req.params.id!);
    return logsResponse(ctx, req, [task], task.Spec.ContainerSpec?.TTY === true);
  });
}

function logsResponse(ctx: ManagerContext, req: ApiRequest, tasks: Task[], tty: boolean): ApiResponse {
  if (!ctx.taskLogs) throw notImplemented('logs need a manager with a cluster transport');
  const q = req.query;
  const wantOut = q.has('stdout') ? boolParam(q, 'stdout') : true;
  const wantErr = q.has('stderr') ? boolParam(q, 'stderr') : true;
  if (!wantOut && !wantErr) throw badRequest('you must choose at least one stream (stdout or stderr)', 'stdout');
  const follow = boolParam(q, 'follow');
  const timestamps = boolParam(q, 'timestamps');
  const details = boolParam(q, 'details');
  const tailRaw = q.get('tail');
  let tail: number | undefined;
  if (tailRaw !== null && tailRaw !== '' && tailRaw !== 'all') {
    tail = Number(tailRaw);
    if (!Number.isInteger(tail) || tail < 0) throw badRequest(`tail: expected "all" or a non-negative integer, got ${JSON.stringify(tailRaw)}`, 'tail');
  }
  const sinceRaw = q.get('since');
  let sinceMs: number | undefined;
  if (sinceRaw && sinceRaw !== '0') {
    sinceMs = /^\d+(\.\d+)?$/.test(sinceRaw) ? Number(sinceRaw) * 1000 : Date.parse(sinceRaw);
    if (!Number.isFinite(sinceMs)) throw badRequest(`since: expected a Unix timestamp or RFC 3339 time, got ${JSON.stringify(sinceRaw)}`, 'since');
  }
  const getLogs = ctx.taskLogs.bind(ctx);
  return {
    headers: { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' },
    stream: async (res: ServerResponse) => {
      const ac = new AbortController();
      res.on('close', () => ac.abort());
      const write = (l: TaskLogLine) => {
        if ((l.stream === 'stdout' && !wantOut) || (l.stream === 'stderr' && !wantErr)) return;
        const prefix =
          (timestamps ? `${new Date(l.time).toISOString()} ` : '') +
          (details ? `com.docker.swarm.node.id=${l.task.NodeID},com.docker.swarm.service.id=${l.task.ServiceID},com.docker.swarm.task.id=${l.task.ID} ` : '');
        const payload = Buffer.from(`${prefix}${l.line}\n`);
        if (tty) return void res.write(payload);
        const head = Buffer.alloc(8);
        head[0] = l.stream === 'stdout' ? 1 : 2;
        head.writeUInt32BE(payload.length, 4);
        res.write(Buffer.concat([head, payload]));
      };
      await getLogs(tasks, { follow, ...(tail !== undefined ? { tail } : {}), ...(sinceMs !== undefined ? { sinceMs } : {}) }, write, ac.signal);
    },
  };
}
