/**
 * Network partitions through the chaos control channel: every node gets
 * the same list of one-way blocks and drops what it would send across them
 * (frames on the cluster Transport, and gossip datagrams both ways). The
 * HTTP API is not cut: clients still reach a manager on the minority side,
 * which is exactly what must not acknowledge writes. With --netns the same
 * specs become nftables drops between namespaces, and an isolated node's
 * link goes down (netns.ts).
 */
import type { ChaosCluster, ChaosNode, PartitionSpec } from '../cluster.js';
import { pick, type FaultImpl } from './impl.js';

function both(a: ChaosNode[], b: ChaosNode[]): PartitionSpec {
  const A = a.map((n) => n.id);
  const B = b.map((n) => n.id);
  return [
    { from: A, to: B },
    { from: B, to: A },
  ];
}

const heal = (c: ChaosCluster) => () => c.setPartition([]);

/** One manager (the leader or not, as the seed says) and about half the workers on the minority side. */
export const partitionMinority: FaultImpl = async ({ c, ev, leader }) => {
  const ms = c.managers();
  if (ms.length < 2) return { skip: 'one manager: nothing to split' };
  const minorityManager = pick(ev, ms)!;
  const ws = c.workers();
  const k = Math.floor(ws.length / 2);
  const start = ev.pick % Math.max(1, ws.length);
  const minorityWorkers = Array.from({ length: k }, (_, i) => ws[(start + i) % ws.length]!);
  const minority = [minorityManager, ...minorityWorkers];
  const majority = c.nodes.filter((n) => !minority.includes(n));
  await c.setPartition(both(minority, majority));
  return {
    targets: minority,
    affectsLeader: minorityManager === leader,
    workersLost: minorityWorkers,
    partition: true,
    note: `minority {${minority.map((n) => n.name).join(',')}} | majority {${majority.map((n) => n.name).join(',')}}`,
    heal: heal(c),
  };
};

/** The leader cut off from every other node, both ways (with --netns: its link goes down). */
export const partitionLeader: FaultImpl = async ({ c, leader }) => {
  if (!leader) return { skip: 'no leader' };
  await c.isolate(leader);
  return { targets: [leader], affectsLeader: true, workersLost: [], partition: true, note: `isolate leader ${leader.name}`, heal: heal(c) };
};

/** The leader can receive but not send: it keeps hearing the others while they hear nothing from it. */
export const partitionAsymmetric: FaultImpl = async ({ c, leader }) => {
  if (!leader) return { skip: 'no leader' };
  const others = c.nodes.filter((n) => n !== leader);
  await c.setPartition([{ from: [leader.id], to: others.map((n) => n.id) }]);
  return { targets: [leader], affectsLeader: true, workersLost: [], partition: true, note: `${leader.name} -> everyone dropped (one-way)`, heal: heal(c) };
};
