/**
 * Host ports of process-runtime tasks (Nomad's model), allocated in the
 * store's apply like every other allocation: Raft's order is the lock, and
 * every manager replaying the log computes the same ports.
 *
 * A process task runs in its node's own network namespace, so it cannot
 * listen on its service's target port (two replicas on one node would
 * collide). When such a task is placed on a node (it gets its NodeID) and its
 * service declares ports (Endpoint.Ports), it gets one host port per distinct
 * target port, the lowest free one of HOST_PORT_FIRST..HOST_PORT_LAST on that
 * node, used for every protocol of that target port. The task sees them as
 * SHOAL_PORT_<target> and PORT (the first); the load balancers reach it at
 * <node underlay address>:<host port>.
 *
 * They are recorded as Docker records host-mode ports,
 * Status.PortStatus.Ports [{Protocol, TargetPort, PublishedPort: <host port>,
 * PublishMode: 'host'}], so `docker service ps` and `inspect` show them. For a
 * placed process task that field belongs to the store: whatever a writer
 * (an agent's status report, an orchestrator writing back) sends is replaced
 * by what the task holds. A port is held while the task's observed state is
 * not terminal (addr-index.ts: the holding is "hostport/<node>"), then free
 * again; the ended task keeps showing it, as Docker's do.
 *
 * A host-mode port with a PublishedPort is the task's host port as it is
 * (Docker's host mode: the task binds that port on its node). Ports any
 * service publishes (ingress or host mode) at allocation time are skipped
 * otherwise: the routing mesh catches a published port on every local address.
 */
import { isTerminal, taskRuntimeOn, type EndpointPortConfig, type Node, type Service, type Task } from '../../model/index.js';
import type { AllocStage } from './alloc-stage.js';

export const HOST_PORT_FIRST = 20000;
export const HOST_PORT_LAST = 29999;

/** The address-index "network" of one node's host ports. */
export function hostPortKey(nodeId: string): string {
  return `hostport/${nodeId}`;
}

export class HostPortExhausted extends Error {}

function isProcessTask(st: AllocStage, t: Task): boolean {
  if (!t.NodeID) return false;
  const node = st.get('node', t.NodeID) as Node | undefined;
  return taskRuntimeOn(t.Spec.Runtime, node?.Description.Runtimes) === 'process';
}

function samePorts(a: EndpointPortConfig[] | undefined, b: EndpointPortConfig[] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

/**
 * The task as stored: for a placed process task, Status.PortStatus is what it
 * holds (kept from `cur` on the same node, or allocated now); any other task
 * is returned unchanged. A node with no free host port rejects the task (its
 * Err says why; the orchestrator replaces it), never the transaction.
 */
export function withHostPorts(st: AllocStage, t: Task, cur: Task | undefined, time: string): Task {
  if (!isProcessTask(st, t)) return t;
  let ports: EndpointPortConfig[] | undefined;
  if (cur && cur.NodeID === t.NodeID && isProcessTask(st, cur) && (!isTerminal(cur.Status.State) || isTerminal(t.Status.State))) {
    ports = cur.Status.PortStatus?.Ports;
  } else if (!isTerminal(t.Status.State)) {
    try {
      ports = allocate(st, t);
    } catch (err) {
      if (!(err instanceof HostPortExhausted)) throw err;
      const { PortStatus: _p, ...status } = t.Status;
      return { ...t, Status: { ...status, State: 'rejected', Message: 'host port allocation failed', Err: err.message, Timestamp: time } };
    }
  }
  const want = ports && ports.length > 0 ? ports : undefined;
  if (want ? samePorts(want, t.Status.PortStatus?.Ports) : t.Status.PortStatus === undefined) return t;
  const { PortStatus: _p, ...status } = t.Status;
  return { ...t, Status: want ? { ...status, PortStatus: { Ports: want } } : status };
}

function allocate(st: AllocStage, t: Task): EndpointPortConfig[] {
  const svc = st.get('service', t.ServiceID) as Service | undefined;
  const declared = svc?.Endpoint?.Ports ?? [];
  if (declared.length === 0) return [];
  const published = new Set<number>();
  for (const s of st.list('service')) for (const p of s.Endpoint?.Ports ?? []) if (p.PublishedPort) published.add(p.PublishedPort);
  const key = hostPortKey(t.NodeID);
  const byTarget = new Map<number, number>();
  const out: EndpointPortConfig[] = [];
  // Host mode with a PublishedPort: the process listens on that very port (the scheduler keeps such tasks one per node).
  for (const p of declared) {
    if (p.PublishMode === 'host' && p.PublishedPort && !byTarget.has(p.TargetPort)) {
      st.claim(key, p.PublishedPort);
      byTarget.set(p.TargetPort, p.PublishedPort);
    }
  }
  let from = HOST_PORT_FIRST;
  for (const p of declared) {
    let hp = byTarget.get(p.TargetPort);
    if (hp === undefined) {
      hp = lowestFreeHostPort(from, (x) => published.has(x) || st.addrUsed(key, x), t.NodeID);
      st.claim(key, hp);
      byTarget.set(p.TargetPort, hp);
      // Everything below is taken now: the next target port searches on from here.
      from = hp + 1;
    }
    out.push({ Protocol: p.Protocol ?? 'tcp', TargetPort: p.TargetPort, PublishedPort: hp, PublishMode: 'host' });
  }
  return out;
}

function lowestFreeHostPort(from: number, used: (port: number) => boolean, nodeId: string): number {
  for (let p = from; p <= HOST_PORT_LAST; p++) if (!used(p)) return p;
  throw new HostPortExhausted(`no free host port left in ${HOST_PORT_FIRST}-${HOST_PORT_LAST} on node ${nodeId}`);
}
