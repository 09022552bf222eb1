/**
 * The filters a node must pass, in pipeline order. Static filters read only
 * node facts (they cannot change within a batch, so their result is shared by
 * every group with the same staticKey); dynamic ones read usage, which grows
 * as the batch places tasks. Each rejected node is counted once, under the
 * first filter it failed (when the caller passes counts: index upkeep does not).
 */
import { constraintMatches } from './constraint.js';
import type { Requirements } from './group.js';
import type { NodeInfo } from './node-info.js';
import { platformMatches } from '../model/platform.js';
import { Why, type ReasonCounts } from './reasons.js';

/** Readiness, availability, platform, runtime, constraints. */
export function passesStatic(info: NodeInfo, req: Requirements, reasons?: ReasonCounts): boolean {
  if (info.state !== 'ready') {
    reasons?.add(Why.NOT_READY, info.state);
    return false;
  }
  if (info.availability !== 'active') {
    reasons?.add(Why.UNAVAILABLE, info.availability);
    return false;
  }
  if (req.platforms !== undefined && !platformMatches(req.platforms, info.os, info.arch)) {
    reasons?.add(Why.PLATFORM);
    return false;
  }
  if (req.runtime !== '' && info.runtimes !== undefined && !info.runtimes.has(req.runtime)) {
    reasons?.add(Why.RUNTIME, req.runtime);
    return false;
  }
  const cs = req.constraints;
  for (let i = 0; i < cs.length; i++) {
    if (!constraintMatches(cs[i]!, info)) {
      reasons?.add(Why.CONSTRAINT, cs[i]!.text);
      return false;
    }
  }
  return true;
}

/**
 * Resources, MaxReplicas, host ports: whether one more task of the group fits.
 * `svcTasks` is the number of the service's tasks already counted on the node.
 */
export function passesDynamic(info: NodeInfo, req: Requirements, svcTasks: number, reasons?: ReasonCounts): boolean {
  if (req.cpu > 0 && info.capCpu - info.usedCpu < req.cpu) {
    reasons?.add(Why.CPU);
    return false;
  }
  if (req.mem > 0 && info.capMem - info.usedMem < req.mem) {
    reasons?.add(Why.MEMORY);
    return false;
  }
  if (req.maxReplicas > 0 && svcTasks >= req.maxReplicas) {
    reasons?.add(Why.MAX_REPLICAS, String(req.maxReplicas));
    return false;
  }
  const ports = info.ports;
  if (ports !== undefined && req.ports.length > 0) {
    for (const p of req.ports) {
      if ((ports.get(p) ?? 0) > 0) {
        reasons?.add(Why.PORT, p);
        return false;
      }
    }
  }
  return true;
}
