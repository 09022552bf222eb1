/**
 * Engine API events (GET /events, `docker events`) made from the store's
 * changes. Every manager applies the same Raft log, so every manager makes
 * the same events with the same (index, seq) position: that is what lets a
 * client resume on another manager without gaps or duplicates.
 */
import type { Change } from '../store/commands.js';
import type { Node, Service, Task } from '../../model/index.js';

/** The Engine API's event message, plus Shoal's position in the Raft log. */
export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'swarm';
  time: number;
  timeNano: number;
  /** Shoal: the Raft index of the transaction that made the event, and its order within it. Resume with `?after=index.seq`. */
  RaftIndex: number;
  Seq: number;
}

/** Store kinds → event Type. Tasks are Shoal's addition (docker shows swarm tasks only as containers on their node). */
const TYPES: Partial<Record<Change['kind'], string>> = { service: 'service', node: 'node', task: 'task', network: 'network', secret: 'secret', config: 'config' };

export const EVENT_TYPES = Object.values(TYPES) as string[];

const ACTIONS: Record<Change['action'], string> = { create: 'create', update: 'update', delete: 'remove' };

function attributes(ch: Change): Record<string, string> {
  const o = ch.object as unknown as Record<string, unknown>;
  switch (ch.kind) {
    case 'service':
      return { name: (o as unknown as Service).Spec.Name };
    case 'node': {
      const n = o as unknown as Node;
      return { name: n.Description?.Hostname ?? n.Spec.Name ?? '', 'state.new': n.Status.State, 'availability.new': n.Spec.Availability };
    }
    case 'task': {
      const t = o as unknown as Task;
      return { 'com.docker.swarm.service.id': t.ServiceID, 'com.docker.swarm.task.slot': String(t.Slot), 'com.docker.swarm.node.id': t.NodeID, 'state.new': t.Status.State, 'desired.new': t.DesiredState };
    }
    default: {
      const spec = o.Spec as { Name?: string } | undefined;
      return { name: spec?.Name ?? '' };
    }
  }
}

/** The events of one applied transaction, in change order; kinds without events (cluster, kv) are skipped. */
export function eventsOf(changes: Change[], index: number, time: string): EngineEvent[] {
  const ms = Date.parse(time);
  const nano = Number.isFinite(ms) ? ms * 1e6 : 0;
  const out: EngineEvent[] = [];
  for (const ch of changes) {
    const type = TYPES[ch.kind];
    if (!type) continue;
    out.push({ Type: type, Action: ACTIONS[ch.action], Actor: { ID: ch.id, Attributes: attributes(ch) }, scope: 'swarm', time: Math.floor(nano / 1e9), timeNano: nano, RaftIndex: index, Seq: out.length });
  }
  return out;
}
