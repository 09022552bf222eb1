/**
 * The data plane keeps serving through control-plane faults. Every request
 * the mesh workload sent through a node's published port must have been
 * answered, except while the request's path was itself under a fault:
 *
 * - the entry node (the address it was sent to) was a fault's target, or
 * - a node running one of the service's replicas was (its requests fail
 *   until the managers decide it is gone and every node's load balancer
 *   drops it: detection, F + margin, then a plan push), or
 * - the fault was a partition (it may cut the path between the entry and a
 *   replica anywhere), or
 * - the fault took every manager (crash-managers): no node hears a manager
 *   for the fence period, so every node's supervisor kills its tasks, as
 *   designed (a node never runs a task it cannot prove is still its own);
 *   the task samples cannot show it (the API is down too), or
 * - no replica was running at all (the managers were replacing them),
 *
 * each from the fault's injection until `slackMs` after it healed (a
 * restarted node reprograms its data plane). A failure with none of these —
 * during a leader kill, a clock jump or a full disk on a node the request
 * never touched, or in quiet time — fails the run: the managers' troubles
 * must never reach the data path.
 *
 * This is weaker than "no failure while any replica is reachable": a
 * request balanced to a replica on a node that just died fails until that
 * replica leaves the load balancers, as in Swarm and kube-proxy (DNAT does
 * not retry). The bench (bench:mesh) measures that window.
 */
import type { ChaosCluster } from '../cluster.js';
import type { FaultRecord } from '../faults/types.js';
import type { TaskSample } from '../observe/tasks.js';
import type { MeshProbe } from '../workload/mesh.js';
import type { Verdict } from './verdict.js';

export interface MeshVerdict extends Verdict {
  probes: number;
  failed: number;
  unexcused: number;
}

export function checkMesh(c: Pick<ChaosCluster, 'byId'>, probes: MeshProbe[], faults: FaultRecord[], samples: TaskSample[], serviceId: string, managers: string[], slackMs = 5_000): MeshVerdict {
  const allManagers = (f: FaultRecord) => managers.length > 0 && managers.every((m) => f.targets.includes(m));
  const done = faults.filter((f) => !f.skipped);
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  /** Nodes running a replica in any sample within [at - slack, at], and whether none ran in the latest. */
  const replicasAround = (at: number): { nodes: Set<string>; noneNow: boolean } => {
    const nodes = new Set<string>();
    let latest: TaskSample | undefined;
    for (const s of sorted) {
      if (s.t > at) break;
      latest = s;
      if (s.t < at - slackMs) continue;
      for (const x of s.tasks) if (x.service === serviceId && x.state === 'running') nodes.add(c.byId(x.node)?.name ?? x.node);
    }
    const noneNow = latest !== undefined && !latest.tasks.some((x) => x.service === serviceId && x.state === 'running' && !latest!.down.has(x.node));
    if (latest) for (const x of latest.tasks) if (x.service === serviceId && x.state === 'running') nodes.add(c.byId(x.node)?.name ?? x.node);
    return { nodes, noneNow };
  };
  const failed = probes.filter((p) => !p.ok);
  const byKind = new Map<string, number>();
  const unexcused: MeshProbe[] = [];
  for (const p of failed) {
    const active = done.filter((f) => p.at >= f.injectAt - 100 && p.at <= f.readyAt + slackMs);
    const { nodes, noneNow } = replicasAround(p.at);
    const why = noneNow ? 'no replica running' : active.find((f) => f.partition || allManagers(f) || f.targets.includes(p.node) || f.targets.some((t) => nodes.has(t)))?.kind;
    if (why) byKind.set(why, (byKind.get(why) ?? 0) + 1);
    else unexcused.push(p);
  }
  const ok = probes.length - failed.length;
  const excused = [...byKind].map(([k, n]) => `${n} ${k}`).join(', ');
  const pass = probes.length > 0 && ok > 0 && unexcused.length === 0;
  return {
    name: 'mesh',
    pass,
    probes: probes.length,
    failed: failed.length,
    unexcused: unexcused.length,
    summary:
      probes.length === 0
        ? 'no request went through the mesh'
        : `${probes.length} requests through the routing mesh, ${failed.length} failed${excused ? ` (excused: ${excused})` : ''}${unexcused.length ? `; ${unexcused.length} with no fault on their path` : ''}`,
    details: unexcused.slice(0, 20).map((p) => `+${Math.round(p.at)} ms via ${p.node}: ${p.err ?? 'failed'} (${p.ms} ms); faults then: ${done.filter((f) => p.at >= f.injectAt - 100 && p.at <= f.readyAt + slackMs).map((f) => `${f.kind}→${f.targets.join('+')}`).join(', ') || 'none'}`),
  };
}
