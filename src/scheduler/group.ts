/**
 * Batching: pending tasks that ask for the same thing (same service, same
 * placement-relevant spec, same hints) form one group, whose spec is parsed
 * and whose filters run once per node for the whole group. A service scaled
 * to 1,000 replicas costs one filter pass, not 1,000.
 */
import { ConstraintError } from '../model/constraints.js';
import type { Task, TaskSpec } from '../model/index.js';
import { parseConstraints, parseSpreadDescriptor, type Constraint, type NodeAttr } from './constraint.js';
import { SchedulerError } from './errors.js';
import { portKeys } from './host-ports.js';
import type { HintsLookup, ServiceHints, Strategy } from './interface.js';
import { amount } from './node-info.js';
import { compilePlatforms, type PlatformWant } from '../model/platform.js';
import { imageTag } from '../model/image-ref.js';

/** Runtime names that ask for nothing in particular (Docker's task kinds, not runtimes). */
const ANY_RUNTIME = new Set(['', 'container', 'plugin', 'attachment']);

/** What every task of a group needs from a node. */
export interface Requirements {
  serviceId: string;
  /** NodeID the task came with ('' if none): only that node is checked. */
  pinned: string;
  strategy: Strategy;
  cpu: number;
  mem: number;
  /** 0 = unlimited. */
  maxReplicas: number;
  constraints: Constraint[];
  platforms: PlatformWant[] | undefined;
  /** Lower-cased; '' = any runtime. */
  runtime: string;
  /** Spread descriptors, outermost first. */
  spread: NodeAttr[];
  /** Host port keys ("tcp/80"), distinct and sorted. */
  ports: string[];
  /** The task's image as nodes report theirs (model/image-ref.ts); '' for none. */
  image: string;
  /** Identifies the node-only filters (readiness, platform, runtime, constraints): groups sharing it share one filter pass. */
  staticKey: string;
}

export interface Group {
  /** The compiled requirements, or why the spec cannot be understood. */
  req: Requirements | SchedulerError;
  tasks: Task[];
}

const SEP = '\u0000';
const SUB = '\u0001';

function sameStrings(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = a ?? [];
  const y = b ?? [];
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * Whether two tasks of one service (same NodeID) ask for the same placement.
 * A field-by-field compare instead of building a key string per task: the
 * string was a quarter of a 10,000-task batch's time.
 */
function samePlacement(a: TaskSpec | undefined, b: TaskSpec | undefined): boolean {
  if (a === b) return true;
  const ra = a?.Resources?.Reservations;
  const rb = b?.Resources?.Reservations;
  if (amount(ra?.NanoCPUs) !== amount(rb?.NanoCPUs) || amount(ra?.MemoryBytes) !== amount(rb?.MemoryBytes)) return false;
  if ((a?.Runtime ?? '') !== (b?.Runtime ?? '')) return false;
  const pa = a?.Placement;
  const pb = b?.Placement;
  if (pa === pb) return true;
  if ((pa?.MaxReplicas ?? 0) !== (pb?.MaxReplicas ?? 0)) return false;
  if (!sameStrings(pa?.Constraints, pb?.Constraints)) return false;
  const fa = pa?.Preferences ?? [];
  const fb = pb?.Preferences ?? [];
  if (fa.length !== fb.length) return false;
  for (let i = 0; i < fa.length; i++) if (fa[i]?.Spread?.SpreadDescriptor !== fb[i]?.Spread?.SpreadDescriptor) return false;
  const la = pa?.Platforms ?? [];
  const lb = pb?.Platforms ?? [];
  if (la.length !== lb.length) return false;
  for (let i = 0; i < la.length; i++) if (la[i]?.OS !== lb[i]?.OS || la[i]?.Architecture !== lb[i]?.Architecture) return false;
  return true;
}

function compile(task: Task, strategy: Strategy, ports: string[]): Requirements | SchedulerError {
  const s = task.Spec ?? {};
  const r = s.Resources?.Reservations;
  const p = s.Placement;
  let constraints: Constraint[];
  let spread: NodeAttr[];
  try {
    constraints = parseConstraints(p?.Constraints);
    spread = (p?.Preferences ?? []).filter((x) => x?.Spread !== undefined).map((x) => parseSpreadDescriptor(x.Spread.SpreadDescriptor));
  } catch (e) {
    // The model's grammar refused it: the task's reason names the constraint and why.
    if (e instanceof ConstraintError) return new SchedulerError(e.code, e.message);
    throw e;
  }
  const platforms = compilePlatforms(p?.Platforms);
  const rt = (s.Runtime ?? '').trim().toLowerCase();
  const runtime = ANY_RUNTIME.has(rt) ? '' : rt;
  const mr = p?.MaxReplicas;
  const maxReplicas = typeof mr === 'number' && Number.isInteger(mr) && mr > 0 ? mr : 0;
  const staticKey = [
    constraints.map((c) => c.text).join(SUB),
    (platforms ?? []).map((x) => `${x.os}/${x.arch}`).join(SUB),
    runtime,
  ].join(SEP);
  return {
    serviceId: task.ServiceID ?? '',
    pinned: task.NodeID ?? '',
    strategy,
    cpu: amount(r?.NanoCPUs),
    mem: amount(r?.MemoryBytes),
    maxReplicas,
    constraints,
    platforms,
    runtime,
    spread,
    ports,
    image: imageTag(s.ContainerSpec?.Image ?? ''),
    staticKey,
  };
}

/**
 * Splits a batch into groups, in order of each group's first task. Throws
 * (before anything changes) on a caller bug: a task without an ID, or the
 * same ID twice.
 */
export function groupTasks(pending: readonly Task[], hints: HintsLookup | undefined, defaultStrategy: Strategy): Group[] {
  const seen = new Set<string>();
  // Per service: its hints, and its groups by NodeID (pinned tasks of a global service differ by node only).
  const perService = new Map<string, { strategy: Strategy; ports: string[]; byNode: Map<string, Group[]> }>();
  const groups: Group[] = [];
  for (const task of pending) {
    const id = task?.ID;
    if (typeof id !== 'string' || id === '') throw new SchedulerError('BAD_REQUEST', 'pending task without an ID');
    if (seen.has(id)) throw new SchedulerError('DUPLICATE_TASK', `task ${id} appears twice in one batch`);
    seen.add(id);
    const sid = task.ServiceID ?? '';
    let svc = perService.get(sid);
    if (!svc) {
      const h: ServiceHints | undefined = hints?.get(sid);
      const strategy = h?.strategy === 'binpack' || h?.strategy === 'spread' ? h.strategy : defaultStrategy;
      svc = { strategy, ports: portKeys(h?.hostPorts), byNode: new Map() };
      perService.set(sid, svc);
    }
    const nodeId = task.NodeID ?? '';
    let list = svc.byNode.get(nodeId);
    if (!list) svc.byNode.set(nodeId, (list = []));
    // Usually one group per service; a rolling update makes two.
    let g = list.find((x) => samePlacement(x.tasks[0]!.Spec, task.Spec));
    if (!g) {
      g = { req: compile(task, svc.strategy, svc.ports), tasks: [] };
      list.push(g);
      groups.push(g);
    }
    g.tasks.push(task);
  }
  return groups;
}

/**
 * For the API layer: the error a service's task template would get from the
 * scheduler (bad constraint or spread descriptor), so `service create` can
 * refuse it up front instead of leaving tasks pending forever.
 */
export function validatePlacement(spec: TaskSpec): SchedulerError | undefined {
  const r = compile({ Spec: spec, ServiceID: '', NodeID: '' } as Task, 'binpack', []);
  return r instanceof SchedulerError ? r : undefined;
}
