/**
 * The data-plane workload (`--netns` runs only: the overlay data plane needs
 * every node on an address of its own). A service of two process-runtime
 * replicas of busybox httpd publishes MESH_PORT through the routing mesh;
 * through the whole run, a prober in the harness's namespace GETs
 * http://<node>:MESH_PORT/ every `everyMs`, each node in turn, and records
 * every answer. checkers/mesh.ts then decides which failures a fault excuses.
 *
 * Its tasks also beat like the service workload's (heartbeatScript), so the
 * slot and convergence checkers count them like any other task.
 */
import http from 'node:http';
import type { ChaosCluster, ChaosNode } from '../cluster.js';
import type { RunClock } from '../clock.js';
import { sleep } from '../clock.js';
import { heartbeatScript } from './services.js';

export const MESH_SERVICE = 'chaosweb';
export const MESH_PORT = 18080;

export interface MeshProbe {
  /** Run clock, when the request was sent. */
  at: number;
  /** The node whose address the request went to (the mesh's entry). */
  node: string;
  ok: boolean;
  ms: number;
  err?: string;
}

export interface MeshWorkloadOptions {
  everyMs: number;
  timeoutMs: number;
  beatsDir: string;
}

export class MeshWorkload {
  readonly probes: MeshProbe[] = [];
  /** The service's ID, once setup() created it. */
  serviceId = '';
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly c: ChaosCluster,
    private readonly clock: RunClock,
    private readonly opts: MeshWorkloadOptions,
  ) {}

  /** Creates the service and waits until every node's mesh answers; the reason when it could not. */
  async setup(deadlineMs: number): Promise<string | null> {
    const until = Date.now() + deadlineMs;
    let why = 'no leader';
    while (Date.now() < until) {
      const l = await this.c.leader();
      if (l) {
        const r = await this.c.api(l, 'POST', '/services/create', spec(this.opts.beatsDir), 5_000);
        if (r.kind === 'ok' || (r.kind === 'fail' && r.status === 409)) {
          const s = await this.c.api(l, 'GET', `/services/${MESH_SERVICE}`, undefined, 5_000);
          if (s.kind === 'ok') {
            this.serviceId = (s.body as { ID: string }).ID;
            break;
          }
        }
        why = r.kind === 'unknown' ? r.reason : `${r.status} ${JSON.stringify(r.body)}`;
      }
      await sleep(250);
    }
    while (Date.now() < until) {
      const answers = await Promise.all(this.c.nodes.map((n) => get(n, this.opts.timeoutMs)));
      if (answers.every((a) => a.ok)) return null;
      why = answers.map((a, i) => `${this.c.nodes[i]!.name}: ${a.ok ? 'ok' : a.err}`).join(', ');
      await sleep(250);
    }
    return `the routing mesh did not answer on every node: ${why}`;
  }

  start(): void {
    this.loop = (async () => {
      let i = 0;
      while (!this.stopped) {
        const n = this.c.nodes[i++ % this.c.nodes.length]!;
        const at = this.clock.now();
        // Not awaited: a paused node's request must not hold up the probes of the others.
        void get(n, this.opts.timeoutMs).then((r) => this.probes.push({ at, node: n.name, ok: r.ok, ms: Math.round(this.clock.now() - at), ...(r.err ? { err: r.err } : {}) }));
        await sleep(this.opts.everyMs);
      }
      await sleep(this.opts.timeoutMs + 100); // the last answers
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    this.probes.sort((a, b) => a.at - b.at);
  }
}

function spec(beatsDir: string): unknown {
  return {
    Name: MESH_SERVICE,
    Labels: { 'shoal.chaos': '1' },
    TaskTemplate: {
      Runtime: 'process',
      ContainerSpec: {
        Image: '/bin/sh',
        Args: ['-c', `(${heartbeatScript(beatsDir)}) & echo ok > index.html; exec /bin/busybox httpd -f -p $PORT -h .`],
        StopGracePeriod: 2_000_000_000,
      },
      RestartPolicy: { Condition: 'any', Delay: 0 },
    },
    Mode: { Replicated: { Replicas: 2 } },
    EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: MESH_PORT }] },
  };
}

function get(n: ChaosNode, timeoutMs: number): Promise<{ ok: boolean; err?: string }> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: { ok: boolean; err?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const req = http.get({ host: n.proc.host, port: MESH_PORT, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (b += d));
      res.on('error', (e) => done({ ok: false, err: e.message }));
      res.on('end', () => done(res.statusCode === 200 && b.trim() === 'ok' ? { ok: true } : { ok: false, err: `HTTP ${res.statusCode}: ${b.slice(0, 80)}` }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, err: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (e) => done({ ok: false, err: e.message }));
  });
}
