/**
 * Host-mode published ports. A task publishing port 80/tcp in host mode binds
 * it on the node itself, so two such tasks can never share a node. Ingress
 * ports go through the routing mesh and do not count; a host port without a
 * PublishedPort gets a random port from the node and cannot conflict.
 */
import type { EndpointPortConfig, EndpointSpec, Task } from '../model/index.js';
import type { HostPort } from './interface.js';

/** The key a node's port table uses: "tcp/80". */
export function portKey(p: HostPort): string {
  return `${p.protocol}/${p.port}`;
}

function fromPortConfigs(ports: readonly EndpointPortConfig[] | undefined): HostPort[] {
  const out: HostPort[] = [];
  if (!ports) return out;
  for (const p of ports) {
    if (p.PublishMode !== 'host') continue;
    const port = p.PublishedPort ?? 0;
    if (!Number.isInteger(port) || port <= 0) continue;
    out.push({ port, protocol: p.Protocol ?? 'tcp' });
  }
  return out;
}

/** Host-mode published ports of a service: what the manager passes as ServiceHints.hostPorts. */
export function hostPortsOf(endpoint: EndpointSpec | undefined): HostPort[] {
  return fromPortConfigs(endpoint?.Ports);
}

/** Host ports a running task reported (fallback when taskAssigned gets no hints). */
export function hostPortsFromStatus(task: Task): HostPort[] {
  return fromPortConfigs(task.Status?.PortStatus?.Ports);
}

/** Distinct, sorted port keys: a stable part of a group key, and one entry per port in a node's table. */
export function portKeys(ports: readonly HostPort[] | undefined): string[] {
  if (!ports || ports.length === 0) return [];
  const keys = [...new Set(ports.filter((p) => Number.isInteger(p.port) && p.port > 0).map(portKey))];
  return keys.sort();
}
