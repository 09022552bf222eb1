/**
 * `shoal service ps` rows: docker's columns, tasks of a slot newest first
 * with older ones marked ` \_ `, states as "Running 5 seconds ago", the
 * error (or, for a pending task, the scheduler's reason) quoted.
 */
import { isTerminal, type Node, type Task } from '../../model/index.js';
import { humanDuration } from '../units.js';
import { hostnameOf } from './nodes.js';
import { imageOf, portsOf } from './services.js';
import { capitalize, shortId, type Columns, type Row } from './table.js';

export const TASK_COLUMNS: Columns = [
  ['ID', 'ID'],
  ['NAME', 'Name'],
  ['IMAGE', 'Image'],
  ['NODE', 'Node'],
  ['DESIRED STATE', 'DesiredState'],
  ['CURRENT STATE', 'CurrentState'],
  ['ERROR', 'Error'],
  ['PORTS', 'Ports'],
];

const MAX_ERR = 30;

/** Why a task is not running: its error, else (pending, e.g. "no suitable node (…)") the status message. */
export function taskReason(t: Task): string {
  if (t.Status.Err) return t.Status.Err;
  return t.Status.State === 'pending' || t.Status.State === 'rejected' ? t.Status.Message : '';
}

function ellipsis(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** Docker's order: by slot (or node for global tasks), newest first within one. */
export function sortTasks(tasks: Task[]): Task[] {
  const key = (t: Task) => `${t.ServiceID}\0${t.Slot > 0 ? String(t.Slot).padStart(10, '0') : t.NodeID}`;
  return [...tasks].sort((a, b) => key(a).localeCompare(key(b)) || b.CreatedAt.localeCompare(a.CreatedAt) || b.ID.localeCompare(a.ID));
}

/**
 * A live task's health check, as `docker ps` shows a container's: " (healthy)",
 * " (unhealthy)" or " (health: starting)". The docker CLI's `service ps` has no
 * place for it; there a task still waiting for its first pass is `Starting`.
 */
function healthOf(t: Task): string {
  const h = t.Status.ContainerStatus?.Health;
  if (!h || isTerminal(t.Status.State)) return '';
  return h.Status === 'starting' ? ' (health: starting)' : ` (${h.Status})`;
}

export function taskRows(tasks: Task[], nodes: Map<string, Node>, opts: { noTrunc?: boolean; now?: number } = {}): Row[] {
  const now = opts.now ?? Date.now();
  let prevName = '';
  return sortTasks(tasks).map((t) => {
    const name = t.Name ?? `${t.ServiceID}.${t.Slot}`;
    const older = name === prevName;
    prevName = name;
    const node = nodes.get(t.NodeID);
    const since = Date.parse(t.Status.Timestamp);
    const reason = taskReason(t);
    return {
      ID: shortId(t.ID, opts.noTrunc),
      Name: older ? ` \\_ ${name}` : name,
      Image: imageOf({ TaskTemplate: t.Spec } as never),
      Node: node ? hostnameOf(node) : t.NodeID ? shortId(t.NodeID) : '',
      DesiredState: capitalize(t.DesiredState),
      CurrentState: `${capitalize(t.Status.State)} ${Number.isNaN(since) ? '' : `${humanDuration(Math.max(0, now - since))} ago`}`.trim() + healthOf(t),
      Error: reason ? JSON.stringify(opts.noTrunc ? reason : ellipsis(reason, MAX_ERR)) : '',
      Ports: portsOf(t.Status.PortStatus?.Ports, 'host'),
    };
  });
}
