/**
 * What must hold in the simulated cluster, at every step and at the end.
 */
import { isTerminal, stateRank } from '../../../src/model/index.js';
import type { Node, Service, Task } from '../../../src/model/index.js';
import { isDead, newestFirst } from '../../../src/manager/orchestrator/model.js';
import { nodeMatches, parseConstraints } from '../../../src/manager/orchestrator/constraints.js';

export interface StoreView {
  services: readonly Service[];
  tasks: readonly Task[];
  nodes: readonly Node[];
}

const RUNNING = stateRank('running');
const live = (t: Task): boolean => stateRank(t.DesiredState) <= RUNNING;
const isGlobal = (s: Service): boolean => s.Spec.Mode.Global !== undefined;
const startFirst = (s: Service): boolean =>
  s.Spec.UpdateConfig?.Order === 'start-first' || s.Spec.RollbackConfig?.Order === 'start-first';

function bySlot(v: StoreView): Map<string, { service: Service; tasks: Task[] }> {
  const svc = new Map(v.services.map((s) => [s.ID, s]));
  const out = new Map<string, { service: Service; tasks: Task[] }>();
  for (const t of v.tasks) {
    const s = svc.get(t.ServiceID);
    if (!s) continue;
    const key = isGlobal(s) ? `${s.ID}/node:${t.NodeID}` : `${s.ID}/slot:${t.Slot}`;
    let e = out.get(key);
    if (!e) out.set(key, (e = { service: s, tasks: [] }));
    e.tasks.push(t);
  }
  return out;
}

/**
 * Never two copies of a slot: at most one task that is desired ready/running
 * and not terminal per replicated slot (per node for global services), except
 * a start-first update's window: exactly two, with different specs.
 */
export function slotInvariant(v: StoreView): string[] {
  const out: string[] = [];
  for (const [key, { service, tasks }] of bySlot(v)) {
    const l = tasks.filter((t) => live(t) && !isTerminal(t.Status.State));
    if (l.length <= 1) continue;
    if (l.length === 2 && startFirst(service) && JSON.stringify(l[0]!.Spec) !== JSON.stringify(l[1]!.Spec)) continue;
    out.push(`slot ${key} has ${l.length} live copies: ${l.map((t) => `${t.ID}(${t.DesiredState}/${t.Status.State})`).join(' ')}`);
  }
  return out;
}

/**
 * What actually runs: at most one copy of a slot reports running on the nodes
 * that are up (two in a start-first window). A replacement waits for its
 * predecessor to stop, so this holds while old copies take their grace period
 * to stop. Excused: an old copy on a node that just came back (it was replaced
 * while its node was unreachable, and the agent is about to stop it), and, in
 * start-first services, old copies still stopping (overlap is what start-first
 * asks for: a new copy never waits there).
 */
export function copiesInvariant(v: StoreView, now: number, readySince: ReadonlyMap<string, number>, graceMs = 6_000): string[] {
  const out: string[] = [];
  const nodes = new Map(v.nodes.map((n) => [n.ID, n]));
  for (const [key, { service, tasks }] of bySlot(v)) {
    const r = tasks.filter((t) => {
      if (t.Status.State !== 'running' || nodes.get(t.NodeID)?.Status.State !== 'ready') return false;
      return live(t) || (!startFirst(service) && now - (readySince.get(t.NodeID) ?? -Infinity) > graceMs);
    });
    if (r.length <= 1) continue;
    if (r.length === 2 && startFirst(service) && JSON.stringify(r[0]!.Spec) !== JSON.stringify(r[1]!.Spec)) continue;
    out.push(`slot ${key} has ${r.length} copies running: ${r.map((t) => `${t.ID}(${t.DesiredState} on ${t.NodeID})`).join(' ')}`);
  }
  return out;
}

/** No task desired running before its restart delay ends. */
export function delayInvariant(v: StoreView, now: number): string[] {
  const out: string[] = [];
  for (const t of v.tasks) {
    const sa = t.Orchestration?.StartAfterMs;
    if (t.DesiredState === 'running' && sa !== undefined && sa > now) out.push(`task ${t.ID} desired running ${sa - now} ms before its restart delay ends`);
  }
  return out;
}

/** Right after the orchestrator acted on the current state: at most `limit` terminal tasks per slot. */
export function historyInvariant(v: StoreView, limit: number): string[] {
  const out: string[] = [];
  for (const [key, { tasks }] of bySlot(v)) {
    const dead = tasks.filter((t) => !live(t) && isDead(t)).length;
    if (dead > limit) out.push(`slot ${key} keeps ${dead} terminal tasks (limit ${limit})`);
  }
  return out;
}

/** Right after the orchestrator acted: nothing wanted on a down node, nothing replicated wanted on a drained node. */
export function placementInvariant(v: StoreView): string[] {
  const out: string[] = [];
  const nodes = new Map(v.nodes.map((n) => [n.ID, n]));
  const svc = new Map(v.services.map((s) => [s.ID, s]));
  for (const t of v.tasks) {
    if (!live(t) || isTerminal(t.Status.State) || t.NodeID === '') continue;
    const n = nodes.get(t.NodeID);
    const s = svc.get(t.ServiceID);
    if (!n) out.push(`task ${t.ID} wanted on removed node ${t.NodeID}`);
    else if (n.Status.State === 'down') out.push(`task ${t.ID} wanted on down node ${n.ID}`);
    else if (n.Spec.Availability === 'drain') out.push(`task ${t.ID} wanted on drained node ${n.ID}`);
    else if (s === undefined) out.push(`task ${t.ID} of removed service ${t.ServiceID} still wanted`);
  }
  return out;
}

export interface ConvergeOptions {
  /** Services whose restart policy may leave a slot empty (MaxAttempts / on-failure): a slot may be finished. */
  mayFinish: (s: Service) => boolean;
}

/** After the faults stop and time passes: desired = running, everywhere. */
export function convergence(v: StoreView, o: ConvergeOptions): string[] {
  const out: string[] = [];
  const nodes = new Map(v.nodes.map((n) => [n.ID, n]));
  const svcIds = new Set(v.services.map((s) => s.ID));
  const slots = bySlot(v);
  for (const s of v.services) {
    const st = s.UpdateStatus?.State;
    if (st === 'updating' || st === 'rollback_started') out.push(`service ${s.ID}: update stuck in ${st}`);
    const mixedOk = st === 'paused' || st === 'rollback_paused';
    const clean = (t: Task) => JSON.stringify(t.Spec) === JSON.stringify(s.Spec.TaskTemplate);
    const check = (key: string, want: boolean) => {
      const ts = slots.get(key)?.tasks ?? [];
      const l = ts.filter(live);
      if (!want) {
        if (l.length > 0) out.push(`${key}: ${l.length} live tasks, none wanted`);
        return;
      }
      if (l.length === 0) {
        const newest = [...ts].sort(newestFirst)[0];
        const finished = newest !== undefined && ['complete', 'failed', 'rejected'].includes(newest.Status.State);
        if (!(o.mayFinish(s) && finished)) out.push(`${key}: no live task`);
        return;
      }
      if (l.length > 1) out.push(`${key}: ${l.length} live tasks`);
      const t = l[0]!;
      if (t.DesiredState !== 'running' || t.Status.State !== 'running') out.push(`${key}: task ${t.ID} desired ${t.DesiredState}, state ${t.Status.State}`);
      if (!mixedOk && !clean(t)) out.push(`${key}: task ${t.ID} runs an old spec (${t.Spec.ContainerSpec?.Image} vs ${s.Spec.TaskTemplate.ContainerSpec?.Image}), update ${st}`);
    };
    if (isGlobal(s)) {
      const parsed = parseConstraints(s.Spec.TaskTemplate.Placement?.Constraints);
      const keys = new Set([...slots.keys()].filter((k) => k.startsWith(`${s.ID}/`)));
      for (const n of v.nodes) keys.add(`${s.ID}/node:${n.ID}`);
      for (const key of keys) {
        const n = nodes.get(key.slice(`${s.ID}/node:`.length));
        const want = n !== undefined && n.Status.State === 'ready' && n.Spec.Availability === 'active' && parsed.ok && nodeMatches(parsed.constraints, n);
        check(key, want);
      }
    } else {
      const r = s.Spec.Mode.Replicated?.Replicas ?? 1;
      const keys = new Set([...slots.keys()].filter((k) => k.startsWith(`${s.ID}/`)));
      for (let i = 1; i <= r; i++) keys.add(`${s.ID}/slot:${i}`);
      for (const key of keys) check(key, Number(key.slice(`${s.ID}/slot:`.length)) <= r);
    }
  }
  for (const t of v.tasks) {
    if (!svcIds.has(t.ServiceID)) out.push(`task ${t.ID} of removed service ${t.ServiceID} not deleted`);
    else if (!live(t) && !isTerminal(t.Status.State) && stateRank(t.Status.State) >= stateRank('assigned')) {
      out.push(`task ${t.ID} desired ${t.DesiredState} but still ${t.Status.State} on ${t.NodeID}`);
    }
  }
  return out;
}
