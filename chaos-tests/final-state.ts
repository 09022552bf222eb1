/**
 * After the faults: wait until the managers agree (same leader and term,
 * everything committed applied everywhere), then read every key from every
 * manager twice — once locally (no barrier: what that manager itself holds,
 * for the acked-writes and divergence checks) and once linearizably (added
 * to the history as final reads, so a lost or reordered write also shows
 * as a linearizability failure) — and list each manager's services.
 */
import type { ChaosCluster } from './cluster.js';
import { sleep, type RunClock } from './clock.js';
import type { FinalState } from './checkers/acked.js';
import { agree, type LeaderWatcher } from './observe/leaders.js';
import type { History } from './workload/history.js';
import type { Outcome } from './http.js';
import { CAS_KEYS } from './workload/keys.js';
import { retry } from '../src/util/retry.js';
import { specGen, type SpecMark } from './workload/services.js';

/** Resolves with the ms it took, or null when the managers did not agree within the deadline. */
export async function waitAgreement(w: LeaderWatcher, clock: RunClock, deadlineMs: number): Promise<number | null> {
  const t0 = clock.now();
  let commit = -1;
  while (clock.now() - t0 < deadlineMs) {
    const s = await w.sample();
    const l = [...s.views.values()].find((v) => v?.isLeader);
    if (l && commit < 0) commit = l.commit;
    if (commit >= 0 && agree(s, commit)) return Math.round(clock.now() - t0);
    await sleep(200);
  }
  return null;
}

export async function collectFinal(c: ChaosCluster, clock: RunClock, history: History, keys: readonly string[]): Promise<FinalState> {
  const values = new Map<string, Map<string, string | null | undefined>>();
  const services = new Map<string, Map<string, SpecMark> | null>();
  const value = (r: Outcome) => (r.kind === 'ok' ? (r.body as { value: string }).value : r.kind === 'fail' && r.status === 404 ? null : undefined);
  // A local read is asked again when it gets no answer (a timeout or a refused connection on a
  // loaded machine, a manager that restarted a moment ago): the managers already agree and the
  // workload has stopped, so asking again reads the same state, and one lost HTTP call must not
  // count as every acknowledged write on that key lost. Three tries (the one retry helper), 5 s each at most.
  const answered = async (m: ReturnType<ChaosCluster['managers']>[number], p: string): Promise<Outcome> => {
    let last: Outcome | undefined;
    return retry(
      async () => {
        last = await c.api(m, 'GET', p, undefined, 5_000);
        if (last.kind === 'unknown' || last.status >= 500) throw new Error(`GET ${p}: no answer`);
        return last;
      },
      { what: `GET ${p} on ${m.name}`, attempts: 3, retryable: () => true, maxRedirects: 0 },
    ).catch(() => last!);
  };
  // Every manager and key at once: a manager that cannot answer costs one timeout, not one per key.
  await Promise.all(
    c.managers().map(async (m) => {
      const kv = new Map<string, string | null | undefined>();
      await Promise.all(keys.map(async (key) => kv.set(key, value(await answered(m, `/shoal/kv/${encodeURIComponent(key)}?local=true`)))));
      values.set(m.name, new Map(keys.map((k) => [k, kv.get(k)])));
      const sv = await answered(m, '/services');
      type Listed = { ID: string; Spec: { Mode: { Replicated?: { Replicas: number } }; TaskTemplate: { ContainerSpec: { Env?: string[] } } } };
      services.set(
        m.name,
        sv.kind === 'ok' ? new Map((sv.body as Listed[]).map((s) => [s.ID, { replicas: s.Spec.Mode.Replicated?.Replicas ?? -1, gen: specGen(s.Spec) }])) : null,
      );
    }),
  );
  // Final linearizable reads through every manager, part of the checked history.
  await Promise.all(
    c.managers().flatMap((m) =>
      keys.map(async (key) => {
        const client = history.newClient();
        const call = clock.now();
        const found = value(await c.api(m, 'GET', `/shoal/kv/${encodeURIComponent(key)}`, undefined, 5_000));
        const ret = clock.now();
        if (found === undefined) return;
        if (CAS_KEYS.includes(key)) history.add({ model: 'cas', client, node: m.name, call, ret, key, input: { op: 'read' }, output: { value: found === null ? null : Number(found) }, outcome: 'ok', detail: 'final read' });
        else history.add({ model: 'kv', client, node: m.name, call, ret, key, input: { op: 'get', key }, output: { value: found ?? '' }, outcome: 'ok', detail: 'final read' });
      }),
    ),
  );
  return { values, services };
}
