/** `shoal node ls` rows and `shoal node inspect --pretty`, in docker's columns and wording. */
import type { Node } from '../../model/index.js';
import { formatBytes } from '../units.js';
import { capitalize, type Columns, type Row } from './table.js';

export const NODE_COLUMNS: Columns = [
  ['ID', (r) => (r.Self ? `${String(r.ID)} *` : String(r.ID))],
  ['HOSTNAME', 'Hostname'],
  ['STATUS', 'Status'],
  ['AVAILABILITY', 'Availability'],
  ['MANAGER STATUS', 'ManagerStatus'],
  ['ENGINE VERSION', 'EngineVersion'],
  // Not in docker's table: the node's address (Status.Addr), where its published ports answer.
  ['ADDRESS', 'Address'],
];

/** "Leader", "Reachable", "Unreachable", or "" for a worker. */
export function managerStatus(n: Node): string {
  if (!n.ManagerStatus) return '';
  return n.ManagerStatus.Leader ? 'Leader' : capitalize(n.ManagerStatus.Reachability ?? '');
}

export function hostnameOf(n: Node): string {
  return n.Description?.Hostname || n.Spec.Name || '';
}

/** Docker's order: by hostname, then ID. */
export function sortNodes(nodes: Node[]): Node[] {
  return [...nodes].sort((a, b) => hostnameOf(a).localeCompare(hostnameOf(b), undefined, { numeric: true }) || a.ID.localeCompare(b.ID));
}

/** One row, with docker's JSON keys; the table marks the node answering with "ID *". */
export function nodeRow(n: Node, selfId: string | undefined): Row {
  const self = n.ID === selfId;
  return {
    ID: n.ID,
    Self: self,
    Hostname: hostnameOf(n),
    Status: capitalize(n.Status?.State ?? 'unknown'),
    Availability: capitalize(n.Spec.Availability),
    ManagerStatus: managerStatus(n),
    EngineVersion: n.Description?.Engine?.EngineVersion ?? '',
    Address: n.Status?.Addr ?? '',
  };
}

/** Label: value lines aligned as docker's tabwriter aligns its pretty templates. */
export function aligned(lines: (readonly [string, string] | string)[]): string {
  const width = Math.max(...lines.map((l) => (typeof l === 'string' ? 0 : l[0].length + 1))) + 2;
  return lines.map((l) => (typeof l === 'string' ? l : `${`${l[0]}:`.padEnd(width)}${l[1]}`.trimEnd())).join('\n') + '\n';
}

export function prettyNode(n: Node): string {
  const lines: (readonly [string, string] | string)[] = [['ID', n.ID]];
  if (n.Spec.Name) lines.push(['Name', n.Spec.Name]);
  const labels = Object.entries(n.Spec.Labels ?? {});
  if (labels.length > 0) {
    lines.push('Labels:');
    for (const [k, v] of labels) lines.push(` - ${k}${v ? `=${v}` : ''}`);
  }
  lines.push(['Hostname', hostnameOf(n)], ['Joined at', n.CreatedAt], 'Status:', [' State', capitalize(n.Status?.State ?? 'unknown')]);
  if (n.Status?.Message) lines.push([' Message', n.Status.Message]);
  lines.push([' Availability', capitalize(n.Spec.Availability)]);
  if (n.Status?.Addr) lines.push([' Address', n.Status.Addr]);
  if (n.ManagerStatus) {
    lines.push('Manager Status:', [' Address', n.ManagerStatus.Addr], [' Raft Status', capitalize(n.ManagerStatus.Reachability)], [' Leader', n.ManagerStatus.Leader ? 'Yes' : 'No']);
  }
  const d = n.Description;
  lines.push('Platform:', [' Operating System', d?.Platform?.OS ?? ''], [' Architecture', d?.Platform?.Architecture ?? '']);
  lines.push('Resources:', [' CPUs', String((d?.Resources?.NanoCPUs ?? 0) / 1e9)], [' Memory', formatBytes(d?.Resources?.MemoryBytes ?? 0)]);
  if (d?.Runtimes && d.Runtimes.length > 0) lines.push(['Runtimes', d.Runtimes.join(', ')]);
  lines.push(['Engine Version', d?.Engine?.EngineVersion ?? '']);
  return aligned(lines);
}
