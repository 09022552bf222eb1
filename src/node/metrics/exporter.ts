/**
 * The node's /metrics: one prom-client Registry per node process, holding
 * families that read the counters and histograms its parts already keep
 * (family.ts). Nothing here is on a hot path; a scrape reads numbers.
 *
 * Which node says what:
 * - every node: its process (prom-client's default collectors), the cluster
 *   transport, gossip, the agent and its tasks (per-task CPU and memory from
 *   the runtime, cgroups for process and oci tasks), its session with the
 *   dispatcher, and the overlay data plane when it has one;
 * - every manager: its Raft member, its API server;
 * - the leader only: the cluster's series (tasks by state, pending tasks and
 *   why, nodes, services) and its dispatcher, scheduler and orchestrator
 *   loops. Summed over all managers, a cluster series counts once.
 */
import client from 'prom-client';
import type { Manager } from '../../manager/manager.js';
import type { ApiMetrics } from '../../manager/api/metrics.js';
import type { WireMetrics } from '../../wire/metrics.js';
import { newGossipDriverMetrics, type GossipDriverMetrics } from '../../gossip/driver.js';
import { newDriverMetrics } from '../../raft/driver.js';
import type { GossipMetrics } from '../../gossip/metrics.js';
import type { MemberRecord } from '../../gossip/interface.js';
import type { AgentMetrics } from '../../worker/agent/metrics.js';
import type { Runtime } from '../../worker/runtime/interface.js';
import type { DataPlaneMetrics } from '../../overlay-net/dataplane/metrics.js';
import type { DnsMetrics } from '../../overlay-net/dns/metrics.js';
import type { Task, TaskState } from '../../model/index.js';
import { isTerminal } from '../../model/index.js';
import type { Histogram } from '../../util/histogram.js';
import { counterFamilies, family, secondsHistogramSamples, type Family, type Sample } from './family.js';
import { newWireMetrics } from '../../wire/metrics.js';
import { GossipMetrics as GossipMetricsClass } from '../../gossip/metrics.js';
import { newApiMetrics } from '../../manager/api/metrics.js';
import { newMetrics as newRaftMetrics } from '../../raft/metrics.js';
import { DataPlaneMetrics as DataPlaneMetricsClass } from '../../overlay-net/dataplane/metrics.js';
import { DnsMetrics as DnsMetricsClass } from '../../overlay-net/dns/metrics.js';
import { SchedulerMetrics } from '../../scheduler/metrics.js';
import { newLeaseMetrics } from '../../manager/lease/metrics.js';
import { newDispatcherMetrics } from '../../manager/dispatcher/metrics.js';
import { emptyStats } from '../../manager/orchestrator/metrics.js';

/** The parts of a node the exporter reads; getters, because roles change (a promoted worker gets a manager). */
export interface NodeMetricsParts {
  nodeId: string;
  transport(): { metrics: WireMetrics };
  gossip(): { metrics: GossipDriverMetrics; core: { metrics: GossipMetrics; probeRttMs: Histogram }; members(): MemberRecord[] } | null;
  manager(): Manager | null;
  api(): { metrics: ApiMetrics } | null;
  agent(): { metrics: AgentMetrics; tracked(): { task: Task; state: TaskState }[]; runtimeOf(taskId: string): Runtime | undefined } | null;
  session(): { heartbeatRttMs: Histogram; heartbeatFailures: number } | null;
  dataPlane(): { kernel: { metrics: DataPlaneMetrics }; resolver: { metrics: DnsMetrics } | null } | null;
  /** Log records written by this process, by level (none: the process keeps no log). */
  logRecords(): ReadonlyMap<string, number> | null;
}

/** Stats reads at once while a scrape walks the tasks (a docker runtime answers each over HTTP). */
const STATS_CONCURRENCY = 16;

export interface NodeMetrics {
  readonly registry: client.Registry;
  /** The exposition text (Prometheus 0.0.4) and its content type. */
  scrape(): Promise<{ contentType: string; text: string }>;
}

export function nodeMetrics(p: NodeMetricsParts): NodeMetrics {
  const registry = new client.Registry();
  registry.setDefaultLabels({ node: p.nodeId });
  // The process's own series (CPU, memory, event-loop lag, GC), under their usual names.
  client.collectDefaultMetrics({ register: registry });
  // Gauges prom-client names *_total, which Prometheus reserves for counters (promtool says so);
  // nodejs_active_handles/requests/resources (by type) carry the same figures.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  const leader = () => {
    const m = p.manager();
    return m?.isLeader ? m : null;
  };
  const families: Family[] = [
    ...wireFamilies(p),
    ...gossipFamilies(p),
    ...raftFamilies(p),
    ...leaderFamilies(leader),
    ...apiFamilies(p),
    ...agentFamilies(p),
    ...dataPlaneFamilies(p),
    family('shoal_log_records_total', 'log records this node process wrote, by level (a node logging errors in a loop shows here)', 'counter', () =>
      [...(p.logRecords() ?? [])].map(([level, value]) => ({ labels: { level }, value })),
    ),
  ];
  for (const f of families) registry.registerMetric(f as unknown as client.Metric);
  return {
    registry,
    async scrape() {
      return { contentType: registry.contentType, text: await registry.metrics() };
    },
  };
}

function wireFamilies(p: NodeMetricsParts): Family[] {
  return counterFamilies('wire', 'cluster transport', newWireMetrics(), () => p.transport().metrics);
}

function gossipFamilies(p: NodeMetricsParts): Family[] {
  return [
    ...counterFamilies('gossip', 'gossip protocol', new GossipMetricsClass(), () => p.gossip()?.core.metrics),
    ...counterFamilies('gossip_udp', 'gossip datagrams', newGossipDriverMetrics(), () => p.gossip()?.metrics, { gauges: ['largestDatagram'] }),
    family('shoal_gossip_members', 'members of this node’s gossip view, by state', 'gauge', () => {
      const g = p.gossip();
      if (!g) return [];
      const by: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
      for (const m of g.members()) by[m.state] = (by[m.state] ?? 0) + 1;
      return Object.entries(by).map(([state, value]) => ({ labels: { state }, value }));
    }),
    family('shoal_gossip_probe_rtt_seconds', 'probe to ack, seconds (SWIM failure detection)', 'histogram', () => {
      const g = p.gossip();
      return g ? secondsHistogramSamples('shoal_gossip_probe_rtt_seconds', g.core.probeRttMs) : [];
    }),
  ];
}

function raftFamilies(p: NodeMetricsParts): Family[] {
  const driver = () => p.manager()?.driver;
  const status = () => driver()?.status();
  const gauge = (name: string, help: string, read: () => number | undefined) =>
    family(name, help, 'gauge', () => {
      const v = read();
      return v === undefined ? [] : [{ value: v }];
    });
  return [
    gauge('shoal_raft_term', 'the current Raft term', () => status()?.term),
    gauge('shoal_raft_commit_index', 'the highest log index known committed', () => status()?.commit),
    gauge('shoal_raft_applied_index', 'the highest log index applied to the store', () => status()?.applied),
    gauge('shoal_raft_last_index', 'the last index in this member’s log', () => status()?.lastIndex),
    gauge('shoal_raft_is_leader', '1 on the leader, 0 on other managers', () => {
      const s = status();
      return s ? (s.role === 'leader' ? 1 : 0) : undefined;
    }),
    ...counterFamilies('raft', 'Raft core', newRaftMetrics(), () => driver()?.coreMetrics),
    ...counterFamilies('raft_driver', 'Raft driver', newDriverMetrics(), () => driver()?.metrics, { gauges: ['lastSnapshotBytes'] }),
    ...counterFamilies('raft_storage', 'Raft log storage', { persists: 0, entriesWritten: 0, bytesWritten: 0 }, () => driver()?.storageMetrics),
    family('shoal_raft_commit_duration_seconds', 'a proposal through this manager, from propose to apply, seconds', 'histogram', () => {
      const d = driver();
      return d ? secondsHistogramSamples('shoal_raft_commit_duration_seconds', d.commitMs) : [];
    }),
    family('shoal_raft_fsync_duration_seconds', 'persisting one Raft Ready (sqlite transaction, synchronous=FULL), seconds', 'histogram', () => {
      const d = driver();
      return d ? secondsHistogramSamples('shoal_raft_fsync_duration_seconds', d.persistMs) : [];
    }),
  ];
}

function leaderFamilies(leader: () => Manager | null): Family[] {
  const tasks = () => leader()?.store.list('task');
  return [
    family('shoal_tasks', 'tasks in the store by current state (history included; leader only)', 'gauge', () => {
      const all = tasks();
      if (!all) return [];
      const by: Record<string, number> = {};
      for (const t of all) by[t.Status.State] = (by[t.Status.State] ?? 0) + 1;
      return Object.entries(by).map(([state, value]) => ({ labels: { state }, value }));
    }),
    family('shoal_tasks_pending', 'tasks waiting for a node, by the scheduler’s reason (leader only)', 'gauge', () => {
      const all = tasks();
      if (!all) return [];
      const by: Record<string, number> = {};
      for (const t of all) if (t.Status.State === 'pending' && !isTerminal(t.DesiredState)) by[t.Status.Message || 'unknown'] = (by[t.Status.Message || 'unknown'] ?? 0) + 1;
      return Object.entries(by).map(([reason, value]) => ({ labels: { reason }, value }));
    }),
    family('shoal_service_tasks_running', 'running tasks per service (leader only)', 'gauge', () => {
      const m = leader();
      if (!m) return [];
      const running = new Map<string, number>();
      for (const t of m.store.list('task')) if (t.Status.State === 'running') running.set(t.ServiceID, (running.get(t.ServiceID) ?? 0) + 1);
      return m.store.list('service').map((s) => ({ labels: { service: s.Spec.Name }, value: running.get(s.ID) ?? 0 }));
    }),
    family('shoal_service_replicas_desired', 'replicas a replicated service asks for (leader only)', 'gauge', () => {
      const m = leader();
      if (!m) return [];
      return m.store
        .list('service')
        .filter((s) => s.Spec.Mode?.Replicated)
        .map((s) => ({ labels: { service: s.Spec.Name }, value: s.Spec.Mode!.Replicated!.Replicas ?? 1 }));
    }),
    family('shoal_nodes', 'nodes by state and availability (leader only)', 'gauge', () => {
      const m = leader();
      if (!m) return [];
      const by = new Map<string, Sample>();
      for (const n of m.store.list('node')) {
        const k = `${n.Status.State}/${n.Spec.Availability}`;
        const s = by.get(k) ?? { labels: { state: n.Status.State, availability: n.Spec.Availability }, value: 0 };
        s.value++;
        by.set(k, s);
      }
      return [...by.values()];
    }),
    family('shoal_dispatcher_sessions', 'worker sessions open on the leader’s dispatcher', 'gauge', () => {
      const m = leader();
      return m ? [{ value: m.dispatcher.sessionCount() }] : [];
    }),
    ...counterFamilies(
      'dispatcher',
      'dispatcher (leader only)',
      newDispatcherMetrics(),
      () => leader()?.dispatcher.metrics,
    ),
    ...counterFamilies('lease', 'fencing lease service (leader only)', newLeaseMetrics(), () => leader()?.lease.metrics),
    ...counterFamilies('scheduler', 'scheduler, since this manager started leading', new SchedulerMetrics(), () => leader()?.scheduler.metrics),
    family('shoal_scheduler_placement_duration_seconds', 'from a task’s creation to its assignment to a node, seconds (leader only)', 'histogram', () => {
      const m = leader();
      return m ? secondsHistogramSamples('shoal_scheduler_placement_duration_seconds', m.scheduler.placementMs) : [];
    }),
    family('shoal_orchestrator_tasks_created_total', 'tasks the orchestrator created, by reason (create, restart, reschedule, update, rollback; leader only)', 'counter', () => {
      const o = leader()?.orchestrator;
      return o ? Object.entries(o.metrics.totals.created).map(([reason, value]) => ({ labels: { reason }, value })) : [];
    }),
    ...counterFamilies(
      'orchestrator',
      'orchestrator decisions (leader only)',
      // `created` is its own family above, labelled by reason; `problems` are words, not counts.
      (({ created: _c, problems: _p, ...counts }) => counts)(emptyStats()),
      () => leader()?.orchestrator?.metrics.totals,
    ),
  ];
}

function apiFamilies(p: NodeMetricsParts): Family[] {
  return [
    family('shoal_api_requests_total', 'API requests answered, by method, route and status', 'counter', () =>
      [...(p.api()?.metrics.requests.values() ?? [])].map((r) => ({ labels: { method: r.method, route: r.route, status: r.status }, value: r.count })),
    ),
    family('shoal_api_request_duration_seconds', 'API request latency by method and route, seconds (a followed log stream counts its whole life)', 'histogram', () =>
      [...(p.api()?.metrics.requestMs.values() ?? [])].flatMap((r) => secondsHistogramSamples('shoal_api_request_duration_seconds', r.hist, { method: r.method, route: r.route })),
    ),
    ...counterFamilies('api', 'API server', newApiMetrics(), () => p.api()?.metrics, {
      gauges: ['logStreams', 'logBytesBuffered', 'logBytesBufferedPeak'],
      skip: ['requests', 'requestMs'],
    }),
  ];
}

function agentFamilies(p: NodeMetricsParts): Family[] {
  return [
    family('shoal_agent_task_transitions_total', 'task states this node reported, by state', 'counter', () =>
      Object.entries(p.agent()?.metrics.transitions ?? {}).map(([state, value]) => ({ labels: { state }, value })),
    ),
    family('shoal_agent_task_starts_total', 'tasks that reached running on this node', 'counter', () => {
      const a = p.agent();
      return a ? [{ value: a.metrics.starts }] : [];
    }),
    family('shoal_agent_task_ends_total', 'tasks that ended on this node, by cause (complete, failed, fenced, oom, lost, rejected, shutdown)', 'counter', () => {
      const a = p.agent();
      if (!a) return [];
      // Every cause, zero included: a rate over `fenced` exists before the first fence.
      const causes = ['complete', 'failed', 'fenced', 'oom', 'lost', 'rejected', 'shutdown'];
      return causes.map((cause) => ({ labels: { cause }, value: a.metrics.ends[cause] ?? 0 }));
    }),
    family('shoal_agent_tasks', 'tasks this node tracks, by state', 'gauge', () => {
      const a = p.agent();
      if (!a) return [];
      const by: Record<string, number> = {};
      for (const { state } of a.tracked()) by[state] = (by[state] ?? 0) + 1;
      return Object.entries(by).map(([state, value]) => ({ labels: { state }, value }));
    }),
    family('shoal_session_heartbeat_rtt_seconds', 'heartbeat round trips to the leader’s dispatcher, seconds', 'histogram', () => {
      const s = p.session();
      return s ? secondsHistogramSamples('shoal_session_heartbeat_rtt_seconds', s.heartbeatRttMs) : [];
    }),
    family('shoal_session_heartbeat_failures_total', 'heartbeats that failed (the session ends and reconnects)', 'counter', () => {
      const s = p.session();
      return s ? [{ value: s.heartbeatFailures }] : [];
    }),
    ...taskResourceFamilies(p),
  ];
}

/** Per-task CPU and memory, read from the runtime (cgroups for process and oci tasks, dockerd for docker) once per scrape and shared by both families. */
function taskResourceFamilies(p: NodeMetricsParts): Family[] {
  let pending: Promise<{ labels: Record<string, string>; cpu?: number; mem?: number }[]> | null = null;
  const read = () =>
    (pending ??= (async () => {
      const a = p.agent();
      if (!a) return [];
      const live = a
        .tracked()
        .filter(({ state }) => state === 'running' || state === 'starting')
        .map(({ task }) => task);
      const out: { labels: Record<string, string>; cpu?: number; mem?: number }[] = [];
      for (let i = 0; i < live.length; i += STATS_CONCURRENCY) {
        const batch = live.slice(i, i + STATS_CONCURRENCY);
        const stats = await Promise.all(batch.map((t) => a.runtimeOf(t.ID)?.stats(t.ID).catch(() => null) ?? null));
        batch.forEach((t, j) => {
          const s = stats[j];
          if (!s) return;
          const labels = { task: t.ID, service_id: t.ServiceID, slot: String(t.Slot) };
          out.push({ labels, ...(s.cpuNanos !== undefined ? { cpu: s.cpuNanos / 1e9 } : {}), ...(s.memoryBytes !== undefined ? { mem: s.memoryBytes } : {}) });
        });
      }
      return out;
    })().finally(() => setTimeout(() => (pending = null), 0)));
  return [
    family('shoal_task_cpu_seconds_total', 'CPU time used by each running task on this node', 'counter', async () =>
      (await read()).filter((r) => r.cpu !== undefined).map((r) => ({ labels: r.labels, value: r.cpu! })),
    ),
    family('shoal_task_memory_bytes', 'memory used by each running task on this node', 'gauge', async () =>
      (await read()).filter((r) => r.mem !== undefined).map((r) => ({ labels: r.labels, value: r.mem! })),
    ),
  ];
}

function dataPlaneFamilies(p: NodeMetricsParts): Family[] {
  return [
    ...counterFamilies('dataplane', 'overlay data plane', new DataPlaneMetricsClass(), () => p.dataPlane()?.kernel.metrics, {
      gauges: ['lastApplyMs', 'lastNftMs', 'lastApplySpawns', 'lastApplyCommands'],
    }),
    ...counterFamilies('dns', 'embedded DNS resolver', new DnsMetricsClass(), () => p.dataPlane()?.resolver?.metrics),
  ];
}
