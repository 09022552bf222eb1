/**
 * KV clients: several concurrent loops, each one open operation at a time
 * against a random manager (any manager may be asked: followers forward
 * writes and serve reads behind a ReadIndex barrier). A client that gets no
 * answer avoids that manager for a while, as a real client would retry
 * elsewhere, which also keeps the number of unknown outcomes — the
 * checker's exponential case — down. A quick 503 (no leader yet) is not
 * held against a manager, so failover times are not inflated by back-off.
 */
import type { Rng } from '../../src/util/rng.js';
import type { ChaosCluster, ChaosNode } from '../cluster.js';
import { sleep, type RunClock } from '../clock.js';
import type { Outcome } from '../http.js';
import type { History, OpRecord } from './history.js';
import { ALL_KEYS, CAS_KEYS, LOG_KEYS, REGISTER_KEYS } from './keys.js';

export interface KvWorkloadOptions {
  clients: number;
  /** Pause between a client's operations, ms (uniform in the range). */
  thinkMs: [number, number];
  /** Requests without an answer after this long are unknown outcomes. */
  timeoutMs: number;
  /**
   * mixed: every client over the shared register, log and CAS keys.
   * own-keys: each client writes only its own key and reads it back through
   * another random manager right after each acknowledged put — a write
   * acknowledged but never committed shows as a stale read with no other
   * writer to explain it.
   */
  mode: 'mixed' | 'own-keys';
}

/** The key a client loop owns in own-keys mode. */
export const ownKey = (loop: number): string => `o${loop}`;

const enc = encodeURIComponent;

export class KvWorkload {
  private stopped = false;
  private loops: Promise<void>[] = [];
  private readonly avoid = new Map<string, number>();
  private seq = 0;

  constructor(
    private readonly c: ChaosCluster,
    private readonly clock: RunClock,
    private readonly rng: Rng,
    private readonly history: History,
    private readonly opts: KvWorkloadOptions,
  ) {}

  start(): void {
    for (let i = 0; i < this.opts.clients; i++) this.loops.push(this.loop(i, this.rng.fork()));
  }

  /** Every key this workload touches (the final reads cover them all). */
  keys(): string[] {
    return this.opts.mode === 'own-keys' ? Array.from({ length: this.opts.clients }, (_, i) => ownKey(i)) : [...ALL_KEYS];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }

  private pickManager(rng: Rng): ChaosNode {
    const now = this.clock.now();
    const ms = this.c.managers();
    const good = ms.filter((m) => (this.avoid.get(m.name) ?? 0) <= now);
    return rng.pick(good.length > 0 ? good : ms);
  }

  private async loop(i: number, rng: Rng): Promise<void> {
    let client = this.history.newClient();
    let turn = 0;
    while (!this.stopped) {
      const m = this.pickManager(rng);
      const rec = this.opts.mode === 'own-keys' ? await this.own(client, m, ownKey(i), turn++) : await this.one(rng, client, m);
      this.history.add(rec);
      if (rec.outcome === 'unknown') {
        client = this.history.newClient();
        // No answer at all (paused, cut off): try the others for a while. A quick 503 is not held against it.
        if (rec.detail?.startsWith('no answer') || rec.detail?.includes('socket hang up') || rec.detail?.includes('ECONNRESET')) this.avoid.set(m.name, this.clock.now() + 2_000);
      } else if (rec.outcome === 'fail' && rec.detail === 'refused') {
        this.avoid.set(m.name, this.clock.now() + 1_000);
      }
      await sleep(rng.range(this.opts.thinkMs[0], this.opts.thinkMs[1]));
    }
  }

  /** own-keys: put, then read back, alternately. */
  private own(client: number, m: ChaosNode, key: string, turn: number): Promise<OpRecord> {
    const n = ++this.seq;
    return turn % 2 === 0 ? this.put(client, m, key, `p${client}.${n}`) : this.get(client, m, key);
  }

  private async one(rng: Rng, client: number, m: ChaosNode): Promise<OpRecord> {
    const n = ++this.seq;
    const x = rng.next();
    const kind = rng.next();
    if (kind < 0.4) {
      const key = rng.pick(REGISTER_KEYS);
      if (x < 0.45) return this.get(client, m, key);
      if (x < 0.75) return this.put(client, m, key, `p${client}.${n}`);
      return this.append(client, m, key, `${client}.${n};`);
    }
    if (kind < 0.75) {
      const key = rng.pick(LOG_KEYS);
      return x < 0.35 ? this.get(client, m, key) : this.append(client, m, key, `${client}.${n};`);
    }
    const key = rng.pick(CAS_KEYS);
    if (x < 0.4) return this.casRead(client, m, key);
    if (x < 0.6) return this.casWrite(client, m, key, rng.int(5));
    return this.cas(client, m, key, rng.int(5), rng.int(5));
  }

  private async timed(m: ChaosNode, method: string, path: string, body?: unknown): Promise<{ call: number; ret: number; o: Outcome }> {
    const call = this.clock.now();
    const o = await this.c.api(m, method, path, body, this.opts.timeoutMs);
    return { call, ret: this.clock.now(), o };
  }

  private async get(client: number, m: ChaosNode, key: string): Promise<OpRecord> {
    const { call, ret, o } = await this.timed(m, 'GET', `/shoal/kv/${enc(key)}`);
    const base = { model: 'kv' as const, client, node: m.name, call, ret, key, input: { op: 'get' as const, key } };
    if (o.kind === 'ok') return { ...base, outcome: 'ok', output: { value: (o.body as { value: string }).value } };
    if (o.kind === 'fail' && o.status === 404) return { ...base, outcome: 'ok', output: { value: '' } };
    // A read that did not answer changed nothing: it is left out of the history (as a failure).
    return { ...base, outcome: 'fail', detail: describe(o) };
  }

  private async put(client: number, m: ChaosNode, key: string, value: string): Promise<OpRecord> {
    const { call, ret, o } = await this.timed(m, 'PUT', `/shoal/kv/${enc(key)}`, { value });
    return { model: 'kv', client, node: m.name, call, ret, key, input: { op: 'put', key, value }, output: {}, outcome: o.kind, detail: describe(o) };
  }

  private async append(client: number, m: ChaosNode, key: string, value: string): Promise<OpRecord> {
    const { call, ret, o } = await this.timed(m, 'POST', `/shoal/kv/${enc(key)}/append`, { value });
    return { model: 'kv', client, node: m.name, call, ret, key, input: { op: 'append', key, value }, output: {}, outcome: o.kind, detail: describe(o) };
  }

  private async casRead(client: number, m: ChaosNode, key: string): Promise<OpRecord> {
    const { call, ret, o } = await this.timed(m, 'GET', `/shoal/kv/${enc(key)}`);
    const base = { model: 'cas' as const, client, node: m.name, call, ret, key, input: { op: 'read' as const } };
    if (o.kind === 'ok') return { ...base, outcome: 'ok', output: { value: Number((o.body as { value: string }).value) } };
    if (o.kind === 'fail' && o.status === 404) return { ...base, outcome: 'ok', output: { value: null } };
    return { ...base, outcome: 'fail', detail: describe(o) };
  }

  private async casWrite(client: number, m: ChaosNode, key: string, value: number): Promise<OpRecord> {
    const { call, ret, o } = await this.timed(m, 'PUT', `/shoal/kv/${enc(key)}`, { value: String(value) });
    return { model: 'cas', client, node: m.name, call, ret, key, input: { op: 'write', value }, output: {}, outcome: o.kind, detail: describe(o) };
  }

  private async cas(client: number, m: ChaosNode, key: string, from: number, to: number): Promise<OpRecord> {
    const { call, ret, o } = await this.timed(m, 'POST', `/shoal/kv/${enc(key)}/cas`, { from: String(from), to: String(to) });
    const base = { model: 'cas' as const, client, node: m.name, call, ret, key, input: { op: 'cas' as const, from, to } };
    // 409: the comparison failed — a definite outcome with a place in the order.
    if (o.kind === 'fail' && o.status === 409) return { ...base, outcome: 'ok', output: { ok: false } };
    if (o.kind === 'ok') return { ...base, outcome: 'ok', output: { ok: true } };
    return { ...base, outcome: o.kind, detail: describe(o) };
  }
}

function describe(o: Outcome): string | undefined {
  if (o.kind === 'ok') return undefined;
  if (o.kind === 'unknown') return `${o.status || ''} ${o.reason}`.trim();
  return o.status === 0 ? 'refused' : `${o.status} ${String(JSON.stringify(o.body) ?? '').slice(0, 120)}`;
}
