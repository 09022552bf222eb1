/**
 * A seeded simulation of the fencing lease (src/manager/lease/core.ts): 3
 * managers running LeaseCore, 4–8 nodes renewing with every manager, a
 * network that delays, drops and partitions messages, nodes that die,
 * managers that crash and leaders that change — including a deposed leader
 * that still believes it leads until its authority runs out, as a real Raft
 * leader can.
 *
 * The safety invariant, checked for every down decision at time T for node
 * n: every renewal ever granted to n — by any manager, at any time, even one
 * whose answer was still in flight — was sent at s with s + F + margin <= T.
 * That is: n's supervisor had surely fenced its tasks before anyone could
 * replace them. Also checked: with no faults at all, nothing is revoked.
 */
import { LeaseCore } from '../../../src/manager/lease/core.js';
import type { LeaseReportAck, LeaseReportBody } from '../../../src/protocol/lease.js';
import { DEFAULT_LEASE_OPTIONS, type LeaseOptions } from '../../../src/manager/lease/options.js';
import { seededRng, type Rng } from '../../../src/util/rng.js';
import { EventQueue } from '../../sim/event-queue.js';

export interface SimResult {
  ok: boolean;
  failure?: string;
  downs: number;
  revocations: number;
  grants: number;
  leaderChanges: number;
  faulty: boolean;
}

const MANAGERS = ['m0', 'm1', 'm2'];

export function runLeaseSimulation(seed: number, opts: { durationMs?: number; faults?: boolean } = {}): SimResult {
  const rng: Rng = seededRng(seed);
  const o: LeaseOptions = { ...DEFAULT_LEASE_OPTIONS };
  const duration = opts.durationMs ?? 30_000;
  const faults = opts.faults ?? true;
  const nodes = Array.from({ length: rng.range(4, 8) }, (_, i) => `n${i}`);
  const q = new EventQueue();
  let now = 0;
  const at = (t: number, run: () => void) => q.at(t, run);

  // --- network: per directed link, up or down; delay 0–60 ms (sometimes 300), loss 0–10%
  const loss = faults ? rng.next() * 0.1 : 0;
  const down = new Set<string>();
  const link = (a: string, b: string) => `${a}>${b}`;
  const deliver = (from: string, to: string, fn: () => void) => {
    if (down.has(link(from, to)) || dead.has(from)) return;
    if (rng.chance(loss)) return;
    const delay = rng.chance(0.02) ? rng.range(100, 300) : rng.range(0, 60);
    at(now + delay, () => {
      if (dead.has(to) || down.has(link(from, to))) return;
      fn();
    });
  };

  // --- managers and leadership
  const cores = new Map(MANAGERS.map((m) => [m, new LeaseCore(o)]));
  const dead = new Set<string>();
  let term = 1;
  let leader: string | null = 'm0';
  /** The Raft guarantee the sim keeps: a leader's authority ends before the next leader is elected. */
  let authorityCap = Infinity;
  for (const m of MANAGERS) (m === leader ? cores.get(m)!.becomeLeader(term, 0) : cores.get(m)!.becomeFollower());

  // --- record of every grant and every decision
  const grants = new Map<string, number[]>(); // node → send times of granted renewals
  const decisions: { node: string; at: number }[] = [];
  let revocations = 0;
  let leaderChanges = 0;
  let grantCount = 0;
  const nodeDead = new Set<string>();
  let failure: string | undefined;

  const standing = (n: string) => (decisions.some((d) => d.node === n) ? ('down' as const) : ('up' as const));

  // Nodes renew with every manager every R.
  for (const n of nodes) {
    const tick = () => {
      if (nodeDead.has(n) || now > duration) return;
      for (const m of MANAGERS) {
        const sentAt = now;
        deliver(n, m, () => {
          const r = cores.get(m)!.renew(n, standing(n), now);
          if (!r.granted) return;
          grantCount++;
          const list = grants.get(n) ?? [];
          list.push(sentAt);
          grants.set(n, list);
        });
      }
      at(now + o.renewEveryMs + rng.range(-10, 10), tick);
    };
    at(rng.range(0, o.renewEveryMs), tick);
  }

  // Followers report to the leader they know (the current one) every R; the leader ticks every R.
  for (const m of MANAGERS) {
    const tick = () => {
      if (now > duration + 10_000) return;
      at(now + o.renewEveryMs, tick);
      if (dead.has(m)) return;
      const core = cores.get(m)!;
      if (core.currentRole === 'leader') {
        core.setAuthority(Math.min(now + 1_000, m === leader ? authorityCap : -Infinity));
        const agent = (n: string) => !nodeDead.has(n) && !down.has(link(n, m));
        const out = core.tick(now, { nodes: nodes.map((n) => ({ id: n, standing: standing(n), agent: agent(n) })), peers: MANAGERS.filter((x) => x !== m) });
        revocations += out.revoked.length;
        for (const d of out.down) {
          if (standing(d.node) === 'down') continue;
          // Only the real leader's decisions commit (a deposed one's proposals fail).
          if (m !== leader) continue;
          decisions.push({ node: d.node, at: now });
        }
      } else if (core.currentRole === 'follower' && leader && leader !== m) {
        const sentAt = now;
        const body: LeaseReportBody = core.report(m, now);
        const to = leader;
        deliver(m, to, () => {
          const ack: LeaseReportAck | null = cores.get(to)!.onReport(body, now);
          if (!ack) return;
          deliver(to, m, () => core.onAck(sentAt, ack));
        });
      }
    };
    at(rng.range(0, o.renewEveryMs), tick);
  }

  // --- faults
  if (faults) {
    // Node deaths.
    for (const n of nodes) if (rng.chance(0.3)) at(rng.range(1_000, duration - 5_000), () => nodeDead.add(n));
    // Partitions: a node cut from some managers, or a manager cut from the others, for a while.
    const parts = rng.range(0, 6);
    for (let i = 0; i < parts; i++) {
      const start = rng.range(500, duration - 3_000);
      const len = rng.range(200, 6_000);
      const kind = rng.int(3);
      const r = rng.fork();
      // Chosen when it starts, against the leader of that moment.
      at(start, () => {
        const cut: string[] = [];
        if (kind === 2) {
          // A split: some nodes and a follower on one side, the leader on the other — the
          // minority follower keeps hearing its nodes (on its token) while the leader decides.
          const m = r.pick(MANAGERS.filter((x) => x !== leader));
          const side = new Set([m, ...nodes.filter(() => r.chance(0.5))]);
          for (const a of [...MANAGERS, ...nodes]) for (const b of [...MANAGERS, ...nodes]) if (side.has(a) !== side.has(b)) cut.push(link(a, b));
        } else if (kind === 0) {
          const n = r.pick(nodes);
          for (const m of MANAGERS) if (r.chance(0.7)) cut.push(link(n, m), link(m, n));
          if (r.chance(0.3)) cut.splice(0, cut.length / 2); // one-way
        } else {
          const m = r.pick(MANAGERS);
          for (const x of [...MANAGERS, ...nodes]) if (x !== m && r.chance(0.8)) cut.push(link(m, x), link(x, m));
        }
        cut.forEach((c) => down.add(c));
        at(now + len, () => cut.forEach((c) => down.delete(c)));
      });
    }
    // Leader changes: the old leader may go on believing it leads (until it hears the new term).
    const changes = rng.range(0, 4);
    for (let i = 0; i < changes; i++) {
      at(rng.range(2_000, duration - 2_000), () => {
        const old = leader;
        const candidates = MANAGERS.filter((m) => m !== old && !dead.has(m));
        if (candidates.length === 0) return;
        // Raft: a new leader is elected only after the old one's authority is over.
        authorityCap = now;
        const gap = rng.range(0, 1_500);
        leader = null;
        at(now + gap, () => {
          const next = rng.pick(candidates);
          term++;
          leaderChanges++;
          leader = next;
          authorityCap = Infinity;
          cores.get(next)!.becomeLeader(term, now);
          for (const m of MANAGERS) {
            if (m === next) continue;
            // The deposed leader learns of the new term at some point; until then it still thinks it leads.
            const learn = () => cores.get(m)!.becomeFollower();
            if (m === old) at(now + rng.range(0, 2_000), learn);
            else learn();
          }
        });
      });
    }
    // A manager crash and restart (it loses its lease state: a fresh core).
    if (rng.chance(0.3)) {
      const m = rng.pick(MANAGERS.filter((x) => x !== 'm0'));
      const t0 = rng.range(2_000, duration - 5_000);
      at(t0, () => {
        if (m === leader) return; // leader crashes are the leadership changes above
        dead.add(m);
      });
      at(t0 + rng.range(500, 3_000), () => {
        if (!dead.has(m)) return;
        dead.delete(m);
        const fresh = new LeaseCore(o);
        fresh.becomeFollower();
        cores.set(m, fresh);
      });
    }
  }

  // --- run
  for (let e = q.next(); e !== undefined && !failure; e = q.next()) {
    now = q.now;
    e.fire();
  }

  // --- the invariant
  for (const d of decisions) {
    for (const s of grants.get(d.node) ?? []) {
      if (s + o.fenceMs + o.marginMs > d.at) {
        failure = `node ${d.node} declared down at ${d.at} ms, but it was granted a renewal sent at ${s} ms: its lease ran to ${s + o.fenceMs} ms, beyond ${d.at} - margin`;
        break;
      }
    }
    if (failure) break;
  }
  if (!failure && !faults && revocations > 0) failure = `no faults, yet ${revocations} revocation(s)`;
  return { ok: !failure, ...(failure ? { failure } : {}), downs: decisions.length, revocations, grants: grantCount, leaderChanges, faulty: faults };
}
