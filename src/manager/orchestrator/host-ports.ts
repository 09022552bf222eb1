/**
 * Whether a process task's host ports still match its service's ports. A
 * process task runs in its node's network namespace and reaches its ports
 * through host ports the store allocated when it was placed, one per
 * declared (protocol, target port), told to it as SHOAL_PORT_<target>
 * (manager/store/task-host-ports.ts). Those cannot change under a running
 * process: when the service's ports change, its process tasks are out of
 * date like tasks of an older spec, and the rolling update replaces them.
 * Tasks of other runtimes get their ports from the network, and never are.
 */
import { taskRuntimeOn, type EndpointPortConfig, type Node, type Service, type Task } from '../../model/index.js';

function key(p: EndpointPortConfig, hostPublished: ReadonlyMap<string, number>, held: boolean): string {
  const k = `${p.Protocol ?? 'tcp'}/${p.TargetPort}`;
  const fixed = hostPublished.get(k);
  // A host-mode port with a PublishedPort is bound as it is: the task must hold that very port.
  if (fixed === undefined) return k;
  return `${k}=${held ? p.PublishedPort : fixed}`;
}

export function hostPortsCurrent(t: Task, svc: Service, node: Node | undefined): boolean {
  if (!t.NodeID || !node) return true;
  if (taskRuntimeOn(t.Spec.Runtime, node.Description?.Runtimes) !== 'process') return true;
  const declared = svc.Endpoint?.Ports ?? [];
  const held = t.Status.PortStatus?.Ports ?? [];
  if (declared.length === 0 && held.length === 0) return true;
  const hostPublished = new Map<string, number>();
  for (const p of declared) if (p.PublishMode === 'host' && p.PublishedPort) hostPublished.set(`${p.Protocol ?? 'tcp'}/${p.TargetPort}`, p.PublishedPort);
  const want = declared.map((p) => key(p, hostPublished, false)).sort();
  const have = held.map((p) => key(p, hostPublished, true)).sort();
  return want.length === have.length && want.every((k, i) => k === have[i]);
}
