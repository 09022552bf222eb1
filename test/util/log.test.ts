/**
 * The node log (src/util/log): pino records through NodeLogSink, with real
 * files. Fields and levels; size rotation; reading back with tail, filters
 * and follow, across rotated files, with nothing missed or sent twice; the
 * in-memory ring and the pretty lines when there is no file.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { createNodeLog } from '../../src/util/log/node-logger.js';
import { parseRecord, prettyRecord } from '../../src/util/log/pretty.js';
import type { LogQuery } from '../../src/util/log/sink.js';
import type { NodeLogSink } from '../../src/util/log/sink.js';
import { waitFor } from '../helpers/wait.js';

function tmp(t: Test): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shoal-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function readAll(sink: NodeLogSink, q: Partial<LogQuery> = {}): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  await sink.read({ follow: false, ...q }, (l) => void out.push(JSON.parse(l) as Record<string, unknown>), new AbortController().signal);
  return out;
}

/** A stand-in for stderr: what was written, and whether it is a terminal. */
function fakeOut(isTTY: boolean): { write(s: string): boolean; isTTY: boolean; text: string } {
  return {
    isTTY,
    text: '',
    write(s: string) {
      this.text += s;
      return true;
    },
  };
}

t.test('records: JSON lines with level, time, node, component and fields; levels filter', async (t) => {
  const file = path.join(tmp(t), 'node.log');
  const { log, sink } = createNodeLog({ file, level: 'info' });
  t.teardown(() => sink.close());
  const raft = log.child({ node: 'n1' }).child({ component: 'raft' });
  raft.info({ term: 7 }, 'became leader');
  raft.debug('not written at info');
  log.child({ component: 'api' }).error({ err: new TypeError('boom') }, 'a bug');
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  t.equal(lines.length, 2, 'the debug record was not written');
  const a = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.match(a, { level: 'info', node: 'n1', component: 'raft', term: 7, msg: 'became leader', pid: process.pid });
  t.ok(Number.isFinite(Date.parse(a.time as string)), 'an RFC 3339 time');
  const b = parseRecord(lines[1]!)!;
  t.equal(b.level, 'error');
  t.match(b.err, { type: 'TypeError', message: 'boom', stack: /TypeError: boom\n\s+at / }, 'an error keeps its type and stack');
  t.same([...sink.metrics.byLevel], [['info', 1], ['error', 1]], 'records counted by level');
  t.match(prettyRecord(b), /^\S+Z ERROR api  a bug  err=boom\n {4}TypeError: boom\n {8}at /, 'pretty: one line, the stack below it');
});

t.test('rotation by size: bounded files, the newest kept, read back in order across them', async (t) => {
  const dir = tmp(t);
  const file = path.join(dir, 'node.log');
  const { log, sink } = createNodeLog({ file, maxFileBytes: 4096, maxFiles: 3 });
  t.teardown(() => sink.close());
  for (let i = 0; i < 500; i++) log.info({ seq: i }, `record ${i} ${'x'.repeat(40)}`);
  t.same(readdirSync(dir).sort(), ['node.log', 'node.log.1', 'node.log.2'], 'three files, the oldest dropped');
  const biggest = Math.max(...['node.log', 'node.log.1', 'node.log.2'].map((f) => statSync(path.join(dir, f)).size));
  t.ok(biggest < 4096 + 200, `no file much beyond the limit (${biggest} bytes)`);
  const all = await readAll(sink);
  const seqs = all.map((r) => r.seq as number);
  t.equal(seqs.at(-1), 499, 'ends with the newest');
  t.same(seqs, seqs.map((_, i) => seqs[0]! + i), `contiguous from the oldest kept (${seqs[0]})`);
  t.ok(seqs[0]! > 0 && all.length < 500, 'the oldest records were rotated away');
  t.same((await readAll(sink, { tail: 3 })).map((r) => r.seq), [497, 498, 499], 'tail: the last three');
  t.same((await readAll(sink, { tail: 0 })).length, 0, 'tail 0: none');

  // A reopened sink (the node restarted) appends to the same set.
  sink.close();
  const again = createNodeLog({ file, maxFileBytes: 4096, maxFiles: 3 });
  t.teardown(() => again.sink.close());
  again.log.info({ seq: 500 }, 'after a restart');
  t.same((await readAll(again.sink, { tail: 2 })).map((r) => r.seq), [499, 500]);
});

t.test('filters: level or worse, component, since', async (t) => {
  const { log, sink } = createNodeLog({ file: path.join(tmp(t), 'node.log'), level: 'debug' });
  t.teardown(() => sink.close());
  const agent = log.child({ component: 'agent' });
  const raft = log.child({ component: 'raft' });
  agent.debug('d');
  agent.warn('w');
  raft.info('i');
  raft.error('e');
  t.same((await readAll(sink, { minLevel: 'warn' })).map((r) => r.msg), ['w', 'e']);
  t.same((await readAll(sink, { component: 'raft' })).map((r) => r.msg), ['i', 'e']);
  t.same((await readAll(sink, { component: 'agent', minLevel: 'info' })).map((r) => r.msg), ['w']);
  t.same((await readAll(sink, { sinceMs: Date.now() + 60_000 })).length, 0, 'nothing after a future time');
  t.equal((await readAll(sink, { sinceMs: Date.now() - 60_000 })).length, 4);
});

t.test('follow: history then every new record, none missed or twice, across a rotation; abort ends it', async (t) => {
  const { log, sink } = createNodeLog({ file: path.join(tmp(t), 'node.log'), maxFileBytes: 4096, maxFiles: 5 });
  t.teardown(() => sink.close());
  for (let i = 0; i < 10; i++) log.info({ seq: i }, 'before');
  const got: number[] = [];
  const ac = new AbortController();
  const done = sink.read({ follow: true, tail: 5 }, (l) => void got.push(JSON.parse(l).seq as number), ac.signal);
  // Written while the history is still being read, and enough to rotate the file under the reader.
  for (let i = 10; i < 200; i++) log.info({ seq: i }, `while following ${'y'.repeat(30)}`);
  await waitFor(() => got.at(-1) === 199, { what: 'the follower reached the last record' });
  t.same(got, Array.from({ length: 195 }, (_, i) => i + 5), 'the last 5 of the history, then every new record once, in order');
  ac.abort();
  await done;
  log.info({ seq: 200 }, 'after');
  t.equal(got.at(-1), 199, 'nothing after the abort');
});

t.test('no file: stderr gets JSON (or pretty lines on a terminal), and memory keeps the last records', async (t) => {
  const json = fakeOut(false);
  const a = createNodeLog({ memoryLines: 3 }, json);
  for (let i = 0; i < 5; i++) a.log.child({ component: 'gossip' }).info({ seq: i }, `m${i}`);
  t.equal(json.text.trimEnd().split('\n').length, 5);
  t.match(parseRecord(json.text.split('\n')[0]!), { component: 'gossip', msg: 'm0' }, 'JSON when not a terminal');
  t.same((await readAll(a.sink)).map((r) => r.seq), [2, 3, 4], 'memory: the last three');
  t.same((await readAll(a.sink, { tail: 2 })).map((r) => r.seq), [3, 4]);

  const tty = fakeOut(true);
  const b = createNodeLog({}, tty);
  b.log.child({ component: 'raft' }).warn({ term: 3 }, 'slow disk');
  t.match(tty.text, /^\S+Z \x1b\[33mWARN \x1b\[0m raft  slow disk  term=3\n$/, 'pretty, coloured, on a terminal');
  const forced = fakeOut(true);
  createNodeLog({ format: 'json' }, forced).log.info('x');
  t.ok(parseRecord(forced.text.trimEnd()), '--log-format json wins over the terminal');
});
