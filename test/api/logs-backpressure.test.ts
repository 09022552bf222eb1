/**
 * `GET /services/{id}/logs?follow=1` with readers that do not keep up. The
 * nodes' lines arrive as fast as a producer makes them (the fake context's
 * taskLogs stands in for the nodes: it calls onLine in a tight loop until
 * aborted). A real socket that stops reading must not make the manager
 * buffer without bound: what it holds for the reader stays under the limit,
 * the reader is dropped with a last line saying why, and the producer is
 * cancelled. A reader that pauses and then catches up loses nothing.
 */
import net from 'node:net';
import t from 'tap';
import type { ManagerContext } from '../../src/manager/interface.js';
import type { LogRequest, TaskLogLine } from '../../src/manager/logs.js';
import type { Task } from '../../src/model/index.js';
import { FakeContext } from './fake-context.js';
import { spec, startApi } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

interface Producer {
  produced: number;
  lines: number;
  aborted: boolean;
  finished: boolean;
}

/** taskLogs that emits `total` lines of `lineBytes` (Infinity: until aborted, or a safety cap of 1 GiB). */
function producingContext(total: number, lineBytes: number): { ctx: FakeContext; p: Producer } {
  const ctx = new FakeContext();
  const p: Producer = { produced: 0, lines: 0, aborted: false, finished: false };
  (ctx as ManagerContext).taskLogs = async (tasks: Task[], _req: LogRequest, onLine: (l: TaskLogLine) => void, signal: AbortSignal) => {
    signal.addEventListener('abort', () => (p.aborted = true), { once: true });
    const task = tasks[0]!;
    const pad = 'x'.repeat(lineBytes - 12);
    while (!signal.aborted && p.lines < total && p.produced < 1024 * MiB) {
      for (let i = 0; i < 64 && p.lines < total && !signal.aborted; i++) {
        onLine({ task, stream: 'stdout', time: Date.now(), line: `${String(p.lines).padStart(10, '0')} ${pad}` });
        p.lines++;
        p.produced += lineBytes;
      }
      await new Promise((r) => setImmediate(r));
    }
    p.finished = true;
  };
  return { ctx, p };
}

async function serviceWithTask(api: Awaited<ReturnType<typeof startApi>>): Promise<string> {
  const created = await api.req('POST', '/services/create', spec('web', 1));
  const nodeId = api.ctx.addNode({ hostname: 'w1' });
  api.ctx.addTask(created.body.ID, 1, { state: 'running', nodeId });
  return created.body.ID as string;
}

function openFollow(port: number, id: string): net.Socket {
  const sock = net.connect(port, '127.0.0.1');
  sock.on('connect', () => sock.write(`GET /v1.47/services/${id}/logs?follow=1&stdout=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
  sock.on('error', () => {});
  return sock;
}

t.test('a follower that stops reading: the manager holds at most the limit, then drops it and cancels the nodes', async (t) => {
  const limit = 2 * MiB;
  const { ctx, p } = producingContext(Infinity, 1 * KiB);
  const api = await startApi({ ctx, server: { maxLogBufferBytes: limit } });
  t.teardown(api.close);
  const id = await serviceWithTask(api);

  const sock = openFollow(api.port, id);
  t.teardown(() => sock.destroy());
  // Read just the response head, then stop reading altogether.
  const head = await new Promise<string>((resolve) => sock.once('data', (d) => resolve(d.toString('latin1'))));
  sock.pause();
  t.match(head, /^HTTP\/1\.1 200 /);

  await waitFor(() => p.aborted, { what: 'the producer to be cancelled when the reader falls behind', timeoutMs: 20_000 });
  t.equal(api.server.metrics.logStreamsDropped, 1, 'the reader was dropped, and counted');
  // What the manager held for this reader never passed the limit (plus one line in flight).
  t.ok(api.server.metrics.logBytesBufferedPeak <= limit + 2 * KiB, `held at most ${api.server.metrics.logBytesBufferedPeak} bytes (limit ${limit})`);
  t.ok(p.produced < 256 * MiB, `the producer stopped after ${(p.produced / MiB).toFixed(1)} MiB`);

  // The reader, reading again (within the grace the manager gives it), finds a clear end: a last line saying why.
  const chunks: Buffer[] = [];
  sock.on('data', (d) => chunks.push(d));
  sock.resume();
  await waitFor(() => sock.readableEnded, { what: 'the response to end', timeoutMs: 15_000 });
  const tail = Buffer.concat(chunks).subarray(-400).toString('latin1');
  t.ok(/shoal: log stream ended by the manager: this reader fell \d+ bytes behind \(the limit is 2097152\); read faster, or ask for less with --tail or --since\n\r\n0\r\n\r\n$/.test(tail), 'the end says why');
  await waitFor(() => api.server.metrics.logStreams === 0 && api.server.metrics.logBytesBuffered === 0, { what: 'the response to let go of its buffers' });
  const ping = await api.req('GET', '/_ping');
  t.equal(ping.status, 200, 'the API still serves');
});

t.test('a dropped follower that never reads again: its socket is let go of', async (t) => {
  const { ctx, p } = producingContext(Infinity, 1 * KiB);
  const api = await startApi({ ctx, server: { maxLogBufferBytes: 1 * MiB } });
  t.teardown(api.close);
  const id = await serviceWithTask(api);
  const sock = openFollow(api.port, id);
  t.teardown(() => sock.destroy());
  await new Promise((resolve) => sock.once('data', resolve));
  sock.pause();
  await waitFor(() => p.aborted, { what: 'the producer to be cancelled', timeoutMs: 20_000 });
  t.equal(api.server.metrics.logStreamsDropped, 1);
  await waitFor(() => api.server.metrics.logStreams === 0 && api.server.metrics.logBytesBuffered === 0, {
    what: 'the manager to let go of the socket it could not finish',
    timeoutMs: 15_000,
  });
  t.pass('the manager holds nothing for it any more');
});

t.test('a follower that pauses and catches up gets every line in order', async (t) => {
  const total = 20_000;
  const lineBytes = 512;
  const { ctx, p } = producingContext(total, lineBytes);
  const api = await startApi({ ctx, server: { maxLogBufferBytes: 64 * MiB } });
  t.teardown(api.close);
  const id = await serviceWithTask(api);

  const sock = openFollow(api.port, id);
  t.teardown(() => sock.destroy());
  const chunks: Buffer[] = [];
  sock.once('data', (d) => {
    chunks.push(d);
    sock.pause();
  });
  // The reader pauses until the whole output was produced (the manager queues it), then reads it all.
  await waitFor(() => p.finished, { what: 'the producer to finish', timeoutMs: 20_000 });
  t.ok(api.server.metrics.logBytesBufferedPeak > 256 * KiB, `the paused reader made the manager queue (${api.server.metrics.logBytesBufferedPeak} bytes at most)`);
  sock.on('data', (d) => chunks.push(d));
  sock.resume();
  const want = `${String(total - 1).padStart(10, '0')} `;
  await waitFor(() => Buffer.concat(chunks).includes(want), { what: 'the last line to arrive', timeoutMs: 20_000 });
  const body = Buffer.concat(chunks).toString('latin1');
  const numbers = [...body.matchAll(/(\d{10}) x+\n/g)].map((m) => Number(m[1]));
  t.equal(numbers.length, total, 'every line arrived');
  t.ok(numbers.every((n, i) => n === i), 'in order');
  t.equal(api.server.metrics.logStreamsDropped, 0, 'nobody was dropped');
});
