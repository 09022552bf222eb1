/**
 * The dispatcher on its own (a real ws Transport, a FakeContext store) and
 * hand-rolled agents that do only what a test tells them: heartbeat, answer
 * a network plan, or stay silent with the session open — which a real agent
 * never does on purpose. Every frame an agent receives is kept in `frames`.
 */
import type { Test } from 'tap';
import { Dispatcher } from '../../src/manager/dispatcher/dispatcher.js';
import type { DispatcherOptions } from '../../src/manager/dispatcher/options.js';
import { Heartbeat, SessionOpen, type SessionFrame } from '../../src/protocol/dispatcher.js';
import type { Connection, Stream } from '../../src/wire/interface.js';
import { WsTransport } from '../../src/wire/ws-transport.js';
import { FakeContext } from '../api/fake-context.js';
import type { Timers } from '../../src/util/timers.js';
import { recordingLogger } from '../helpers/logs.js';

export interface Agent {
  frames: SessionFrame[];
  conn: Connection;
  stream: Stream<SessionFrame>;
  sessionId: string;
  ended: Promise<string>;
  /** One heartbeat; resolves with the period the dispatcher answers. */
  heartbeat(): Promise<number>;
}

export async function setup(t: Test, options: Partial<DispatcherOptions>, timers?: Timers) {
  const ctx = new FakeContext();
  const cluster = ctx.init();
  // The period agents heartbeat at is the cluster's (Spec.Dispatcher.HeartbeatPeriod, what
  // `swarm update --dispatcher-heartbeat` sets); options.heartbeatMs only stands in without one.
  if (options.heartbeatMs !== undefined) {
    const cur = ctx.store.get('cluster', cluster.ID)!;
    ctx.mustApply([{ op: 'update', kind: 'cluster', object: { ...cur, Spec: { ...cur.Spec, Dispatcher: { HeartbeatPeriod: options.heartbeatMs * 1e6 } } } }]);
  }
  const server = new WsTransport({ nodeId: ctx.selfId });
  const addr = await server.listen({ host: '127.0.0.1', port: 0 });
  const logs: string[] = [];
  const d = new Dispatcher({ transport: server, ctx, managers: () => [{ nodeId: ctx.selfId, addr }], options, log: recordingLogger((r) => logs.push(r.msg)).log, ...(timers ? { timers } : {}) });
  d.startLeading();
  const clients: WsTransport[] = [];
  t.teardown(async () => {
    d.close();
    for (const c of clients) await c.close();
    await server.close();
  });
  const connect = async (nodeId: string): Promise<Agent> => {
    const tr = new WsTransport({ nodeId });
    clients.push(tr);
    const conn = await tr.connect(addr, { timeoutMs: 5_000 });
    const stream = conn.openStream(SessionOpen, {
      type: 'open',
      nodeId,
      description: { hostname: nodeId, os: 'linux', arch: 'x86_64', nanoCpus: 1e9, memoryBytes: 1e9, labels: {}, runtimes: ['process'], engineVersion: '0.1.0', clusterAddr: '127.0.0.9:4242', gossipAddr: '127.0.0.9:4242' },
    }) as Stream<SessionFrame>;
    let sessionId = '';
    const frames: SessionFrame[] = [];
    let resolveEnd!: (why: string) => void;
    const ended = new Promise<string>((r) => (resolveEnd = r));
    const gotSession = new Promise<void>((resolve) =>
      stream.onData(
        (f) => {
          frames.push(f);
          if (f.type === 'session') {
            sessionId = f.sessionId;
            resolve();
          }
        },
        (err) => resolveEnd(err?.message ?? 'ended'),
      ),
    );
    const a: Agent = {
      frames,
      conn,
      stream,
      sessionId: '',
      ended,
      heartbeat: async () => (await conn.request(Heartbeat, { nodeId, sessionId: a.sessionId }, { timeoutMs: 5_000 })).heartbeatMs,
    };
    await gotSession;
    a.sessionId = sessionId;
    return a;
  };
  return { ctx, d, connect, logs };
}

