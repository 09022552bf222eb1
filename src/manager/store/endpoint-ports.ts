/**
 * A service's Endpoint.Ports, computed at apply. A port published in ingress
 * mode is taken on every node, so one port (per protocol) has one service:
 * an explicit one already published elsewhere is refused naming its field,
 * and `PublishedPort: 0` gets the lowest free port of Swarm's dynamic range.
 */
import type { EndpointPortConfig, Service } from '../../model/index.js';
import { lowestFreePort } from '../../overlay-net/ipam/index.js';
import { StoreError, StoreErrorCode } from './errors.js';
import { guard, isIngressPort } from './overlay-rules.js';

/**
 * Endpoint.Ports: the spec's ports with defaults filled and ingress ports
 * given a PublishedPort. An explicit port already published by another
 * service is refused; a dynamic one keeps the port it had (same target and
 * protocol) so updates do not move it.
 */
export function endpointPorts(next: Service, cur: Service | undefined, services: readonly Service[]): EndpointPortConfig[] {
  const specPorts = next.Spec.EndpointSpec?.Ports ?? [];
  const others = new Map<string, string>();
  for (const s of services) {
    if (s.ID === next.ID) continue;
    for (const p of s.Endpoint?.Ports ?? []) if (isIngressPort(p) && p.PublishedPort) others.set(`${p.PublishedPort}/${p.Protocol ?? 'tcp'}`, s.Spec.Name);
  }
  const mine = new Set<string>();
  const out: EndpointPortConfig[] = specPorts.map((p) => ({ ...p, Protocol: p.Protocol ?? 'tcp', PublishMode: p.PublishMode ?? 'ingress', PublishedPort: p.PublishedPort ?? 0 }));
  // Explicit ports first, so a dynamic one never takes a port the spec names further on.
  out.forEach((p, i) => {
    if (!isIngressPort(p) || !p.PublishedPort) return;
    const key = `${p.PublishedPort}/${p.Protocol}`;
    const owner = others.get(key);
    if (owner !== undefined) throw new StoreError(StoreErrorCode.INVALID, `port ${key} is already published by service ${owner}`, `Spec.EndpointSpec.Ports[${i}].PublishedPort`);
    mine.add(key);
  });
  const had = (cur?.Endpoint?.Ports ?? []).filter(isIngressPort);
  out.forEach((p, i) => {
    if (!isIngressPort(p) || p.PublishedPort) return;
    const used = (port: number) => others.has(`${port}/${p.Protocol}`) || mine.has(`${port}/${p.Protocol}`);
    const prev = had.find((h) => h.TargetPort === p.TargetPort && (h.Protocol ?? 'tcp') === p.Protocol && h.PublishedPort && !used(h.PublishedPort));
    p.PublishedPort = prev?.PublishedPort ?? guard(() => lowestFreePort(used, `Spec.EndpointSpec.Ports[${i}].PublishedPort`));
    mine.add(`${p.PublishedPort}/${p.Protocol}`);
  });
  return out;
}
