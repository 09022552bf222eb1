/**
 * The service workload: one client that creates a few services, then
 * updates (a new env var: a rolling, stop-first replacement of every task)
 * and scales them, each through a random manager. Every task is a
 * shell loop that stamps a heartbeat file named after its task ID, which is
 * the ground truth of what actually runs (observe/beats.ts).
 */
import type { Rng } from '../../src/util/rng.js';
import type { ChaosCluster, ChaosNode } from '../cluster.js';
import { sleep, type RunClock } from '../clock.js';
import type { OpOutcome } from './history.js';

export interface ServiceOp {
  kind: 'create' | 'update' | 'scale';
  name: string;
  node: string;
  call: number;
  ret: number;
  outcome: OpOutcome;
  /** The service ID an acknowledged create answered with. */
  id?: string;
  replicas?: number;
  /** What the op wrote (a full spec, so the last one to take effect is what a manager must hold). */
  wrote?: SpecMark;
  detail?: string;
}

/** The parts of a service spec the workload varies. */
export interface SpecMark {
  replicas: number;
  gen: number;
}

export interface ServiceWorkloadOptions {
  maxServices: number;
  maxReplicas: number;
  everyMs: [number, number];
  timeoutMs: number;
  /** Where tasks write their heartbeats. */
  beatsDir: string;
  prefix: string;
}

/**
 * The task: learn its own ID from its working directory (<tasks>/<id>/work),
 * note its start time, then touch <beats>/<id> every 100 ms until stopped.
 */
export function heartbeatScript(beatsDir: string): string {
  return [
    'd=$(pwd); d=${d%/work}; f=' + JSON.stringify(beatsDir) + '/${d##*/}',
    'date +%s%3N > "$f.start"',
    "trap 'exit 0' TERM INT",
    'while :; do echo > "$f"; sleep 0.1; done',
  ].join('; ');
}

export class ServiceWorkload {
  readonly ops: ServiceOp[] = [];
  private stopped = false;
  private done: Promise<void> | null = null;
  private names: string[] = [];

  constructor(
    private readonly c: ChaosCluster,
    private readonly clock: RunClock,
    private readonly rng: Rng,
    private readonly opts: ServiceWorkloadOptions,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Names of the services this workload tried to create. */
  serviceNames(): string[] {
    return [...this.names];
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const up = this.c.managers().filter((x) => this.c.up(x));
      const m = this.rng.pick(up.length > 0 ? up : this.c.managers());
      const x = this.rng.next();
      const replicas = this.rng.range(1, this.opts.maxReplicas);
      if (this.names.length < this.opts.maxServices) {
        const name = `${this.opts.prefix}${this.names.length}`;
        this.names.push(name);
        await this.create(m, name, replicas);
      } else {
        const name = this.rng.pick(this.names);
        await this.change(m, name, x < 0.5 ? 'scale' : 'update', replicas);
      }
      await sleep(this.rng.range(this.opts.everyMs[0], this.opts.everyMs[1]));
    }
  }

  private spec(name: string, replicas: number, gen: number): unknown {
    return {
      Name: name,
      Labels: { 'shoal.chaos': '1' },
      TaskTemplate: {
        Runtime: 'process',
        ContainerSpec: { Image: 'none', Command: ['sh', '-c', heartbeatScript(this.opts.beatsDir)], Env: [`GEN=${gen}`], StopGracePeriod: 2_000_000_000 },
        RestartPolicy: { Condition: 'any', Delay: 0 },
        // Every task gets an address on this overlay (the store's IPAM, under the faults): checkers/addresses.ts.
        Networks: [{ Target: CHAOS_NETWORK }],
      },
      Mode: { Replicated: { Replicas: replicas } },
      UpdateConfig: { Parallelism: 2, Order: 'stop-first', FailureAction: 'continue', Monitor: 500_000_000 },
    };
  }

  private networkReady = false;

  private async create(m: ChaosNode, name: string, replicas: number): Promise<void> {
    if (!this.networkReady) {
      // Created once, before the first service (201; 409 when an earlier try made it but its answer was lost).
      const n = await this.c.api(m, 'POST', '/networks/create', { Name: CHAOS_NETWORK, Driver: 'overlay' }, this.opts.timeoutMs);
      if (n.kind !== 'ok' && !(n.kind === 'fail' && n.status === 409)) return;
      this.networkReady = true;
    }
    const call = this.clock.now();
    const o = await this.c.api(m, 'POST', '/services/create', this.spec(name, replicas, 0), this.opts.timeoutMs);
    const ret = this.clock.now();
    this.ops.push({
      kind: 'create',
      name,
      node: m.name,
      call,
      ret,
      outcome: o.kind,
      replicas,
      wrote: { replicas, gen: 0 },
      ...(o.kind === 'ok' ? { id: (o.body as { ID: string }).ID } : { detail: o.kind === 'unknown' ? o.reason : `${o.status}` }),
    });
  }

  private async change(m: ChaosNode, name: string, kind: 'scale' | 'update', replicas: number): Promise<void> {
    const call = this.clock.now();
    const cur = await this.c.api(m, 'GET', `/services/${encodeURIComponent(name)}`, undefined, this.opts.timeoutMs);
    if (cur.kind !== 'ok') {
      this.ops.push({ kind, name, node: m.name, call, ret: this.clock.now(), outcome: 'fail', detail: `inspect: ${cur.kind === 'unknown' ? cur.reason : cur.status}` });
      return;
    }
    const s = cur.body as { Version: { Index: number }; Spec: { Mode: { Replicated: { Replicas: number } }; TaskTemplate: { ContainerSpec: { Env?: string[] } } } };
    const gen = specGen(s.Spec);
    const wrote: SpecMark = kind === 'scale' ? { replicas, gen } : { replicas: s.Spec.Mode.Replicated.Replicas, gen: gen + 1 };
    const spec = this.spec(name, wrote.replicas, wrote.gen);
    const o = await this.c.api(m, 'POST', `/services/${encodeURIComponent(name)}/update?version=${s.Version.Index}`, spec, this.opts.timeoutMs);
    this.ops.push({
      kind,
      name,
      node: m.name,
      call,
      ret: this.clock.now(),
      outcome: o.kind,
      ...(kind === 'scale' ? { replicas } : {}),
      wrote,
      ...(o.kind === 'ok' ? {} : { detail: o.kind === 'unknown' ? o.reason : `${o.status}` }),
    });
  }
}

/** The generation an update stamped into a service spec (its GEN env var). */
/** The overlay network every chaos service joins. */
export const CHAOS_NETWORK = 'chaosnet';

export function specGen(spec: { TaskTemplate: { ContainerSpec: { Env?: string[] } } }): number {
  return Number(/GEN=(\d+)/.exec((spec.TaskTemplate.ContainerSpec.Env ?? []).join(' '))?.[1] ?? 0);
}
