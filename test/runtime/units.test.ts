/**
 * The pure parts under the runtimes, without starting anything: rotated log
 * files (writer and reader, follow across a rotation), Docker's multiplexed
 * stream, RFC 3339 stamps, signal names, and where the compiled supervisor is.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { readLogFiles } from '../../src/worker/runtime/common/log-reader.js';
import { LogWriter } from '../../src/worker/runtime/common/log-writer.js';
import { MAX_LINE_BYTES } from '../../src/worker/runtime/common/log-format.js';
import { defaultSupervisorEntry } from '../../src/worker/supervisor/client.js';
import { exitCodeForSignal, signalName } from '../../src/worker/runtime/common/signals.js';
import { Demuxer, parseRfc3339Ms, parseTimestamped } from '../../src/worker/runtime/docker/demux.js';
import type { LogLine, LogOptions } from '../../src/worker/runtime/interface.js';
import { humanAgo, humanSize } from '../../src/cli/commands/image.js';
import { within } from '../helpers/wait.js';
import { lockPidFile, procRef, readPidFile } from '../../src/worker/runtime/common/proc.js';

const work = mkdtempSync(path.join(tmpdir(), 'shoal-rt-units-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

async function read(dir: string, opts: LogOptions, finished: () => boolean = () => true): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for await (const l of readLogFiles(dir, 3, opts, finished, 5)) out.push(l);
  return out;
}

t.test('log writer: lines, partial lines, both streams, long lines', async (t) => {
  const dir = path.join(work, 'w1');
  let now = 1_000;
  const w = new LogWriter(dir, { maxBytes: 1 << 20, maxFiles: 3 }, () => now);
  w.write('stdout', Buffer.from('a\nb'));
  now = 2_000;
  w.write('stderr', Buffer.from('e1\n'));
  w.write('stdout', Buffer.from('c\n\n'));
  w.write('stdout', Buffer.from('x'.repeat(MAX_LINE_BYTES + 10) + '\n'));
  w.write('stderr', Buffer.from('tail-without-newline'));
  w.close();
  const lines = await read(dir, {});
  t.same(
    lines.map((l) => [l.stream, l.line.length > 50 ? `x*${l.line.length}` : l.line, l.time]),
    [
      ['stdout', 'a', 1000],
      ['stderr', 'e1', 2000],
      ['stdout', 'bc', 2000],
      ['stdout', '', 2000],
      ['stdout', `x*${MAX_LINE_BYTES}`, 2000],
      ['stdout', 'x'.repeat(10), 2000],
      ['stderr', 'tail-without-newline', 2000],
    ],
  );
  t.same((await read(dir, { tail: 2 })).map((l) => l.line), ['x'.repeat(10), 'tail-without-newline']);
  t.same((await read(dir, { sinceMs: 1500, tail: 1 })).map((l) => l.line), ['tail-without-newline']);
  t.same((await read(dir, { sinceMs: 1500 })).length, 6);
});

t.test('log rotation keeps maxFiles files and the reader spans them', async (t) => {
  const dir = path.join(work, 'w2');
  let now = 0;
  const w = new LogWriter(dir, { maxBytes: 600, maxFiles: 3 }, () => ++now);
  for (let i = 0; i < 100; i++) w.write('stdout', Buffer.from(`line ${i}\n`));
  w.close();
  t.same(readdirSync(dir).sort(), ['task.log', 'task.log.1', 'task.log.2'], 'three files at most');
  const lines = await read(dir, {});
  const nums = lines.map((l) => Number(l.line.split(' ')[1]));
  t.equal(nums[nums.length - 1], 99, 'newest last');
  t.same(nums, nums.map((_, i) => nums[0]! + i), 'contiguous: the oldest files were dropped whole');
  t.ok(nums.length < 100 && nums.length > 20, `older lines rotated away (${nums.length} kept)`);
  t.same((await read(dir, { tail: 3 })).map((l) => l.line), ['line 97', 'line 98', 'line 99']);
});

t.test('follow reads on across a rotation and ends when the task is finished', async (t) => {
  const dir = path.join(work, 'w3');
  const w = new LogWriter(dir, { maxBytes: 300, maxFiles: 3 });
  w.write('stdout', Buffer.from('before\n'));
  let done = false;
  const got: string[] = [];
  const reading = (async () => {
    for await (const l of readLogFiles(dir, 3, { follow: true }, () => done, 5)) got.push(l.line);
  })();
  for (let i = 0; i < 20; i++) {
    w.write('stdout', Buffer.from(`f${i}\n`));
    // Give the reader a chance between writes, so it sees rotations happen under it.
    if (i % 4 === 0) await new Promise((r) => setImmediate(r));
  }
  w.close();
  done = true;
  await within(reading, 5_000, 'follow to end');
  t.equal(got[0], 'before');
  t.equal(got[got.length - 1], 'f19');
  t.same(got.slice(1), got.slice(1).map((_, i) => `f${Number(got[1]!.slice(1)) + i}`), 'in order, none twice');
});

t.test('follow ends at once for a finished task and for no log at all', async (t) => {
  const dir = path.join(work, 'w4');
  t.same(await within(read(dir, { follow: true }), 2_000, 'empty follow'), []);
  t.notOk(existsSync(dir), 'reading creates nothing');
});

t.test('docker stream demultiplexing', async (t) => {
  const frame = (stream: 1 | 2, text: string) => {
    const p = Buffer.from(text);
    const h = Buffer.alloc(8);
    h[0] = stream;
    h.writeUInt32BE(p.length, 4);
    return Buffer.concat([h, p]);
  };
  const all = Buffer.concat([frame(1, '2024-05-01T10:00:00.123456789Z hello\n'), frame(2, '2024-05-01T10:00:01Z err'), frame(2, 'or\n'), frame(1, '2024-05-01T10:00:02.5Z tail')]);
  const d = new Demuxer();
  const out: { stream: string; text: string }[] = [];
  // Byte by byte: frames and lines split anywhere.
  for (const b of all) out.push(...d.push(Buffer.from([b])));
  out.push(...d.end());
  t.same(out.map((o) => [o.stream, o.text]), [
    ['stdout', '2024-05-01T10:00:00.123456789Z hello'],
    ['stderr', '2024-05-01T10:00:01Z error'],
    ['stdout', '2024-05-01T10:00:02.5Z tail'],
  ]);
  const l = parseTimestamped('stdout', out[0]!.text);
  t.same(l, { stream: 'stdout', time: Date.parse('2024-05-01T10:00:00.123Z'), line: 'hello' });
  t.equal(parseRfc3339Ms('2024-05-01T10:00:00.5+02:00'), Date.parse('2024-05-01T08:00:00.500Z'));
  t.equal(parseRfc3339Ms('nonsense'), null);
});

t.test('signals, sizes, ages, supervisor path', async (t) => {
  t.equal(signalName('TERM'), 'SIGTERM');
  t.equal(signalName('sigkill'), 'SIGKILL');
  t.equal(signalName('9'), 'SIGKILL');
  t.equal(signalName(15), 'SIGTERM');
  t.equal(signalName('NOPE'), null);
  t.equal(exitCodeForSignal('SIGKILL'), 137);
  t.equal(humanSize(999), '999B');
  t.equal(humanSize(4_260_000), '4.26MB');
  t.equal(humanSize(1_000_000), '1MB');
  t.equal(humanAgo(new Date(10_000).toISOString(), 10_400), 'Less than a second ago');
  t.equal(humanAgo(new Date(0).toISOString(), 125_000), '2 minutes ago');
  t.equal(humanAgo(new Date(0).toISOString(), 3 * 86_400_000), '3 days ago');
  // Compiled (npm test runs .build/test) it is the main.js beside the client; from the TypeScript
  // sources (tsx) it is dist's.
  t.match(defaultSupervisorEntry(), /(dist|\.build)\/src\/worker\/supervisor\/main\.js$/, 'the compiled supervisor');
  t.ok(existsSync(defaultSupervisorEntry()), 'and it exists');
});

t.test('lockPidFile: one live holder; a reused PID or an empty file is taken over, under the takeover guard; no temporary file left', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pidlock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'x.pid');
  t.ok(lockPidFile(file), 'a free lock is taken');
  t.same(readPidFile(file), procRef(process.pid), 'holding our PID and start time');
  t.notOk(lockPidFile(file), 'held by a live process (this one): refused');
  // Another live process holds it.
  const other = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => other.kill('SIGKILL'));
  const ref = procRef(other.pid!)!;
  writeFileSync(file, `${ref.pid} ${ref.startTime}\n`);
  t.notOk(lockPidFile(file), 'held by another live process: refused');
  // Its PID with another start time: a reused PID, not the holder.
  writeFileSync(file, `${ref.pid} 1\n`);
  t.ok(lockPidFile(file), 'a PID whose start time differs is taken over');
  // Empty: what the old lock left between its exclusive create and its write; taken for stale.
  writeFileSync(file, '');
  t.ok(lockPidFile(file), 'an empty file is taken over');
  t.same(readPidFile(file), procRef(process.pid));
  t.same(readdirSync(dir), ['x.pid'], 'no temporary file left behind');
  // A stale file while another live process is taking it over (it holds the guard): it will hold the lock.
  writeFileSync(file, `${ref.pid} 1\n`);
  writeFileSync(`${file}.takeover`, `${ref.pid} ${ref.startTime}\n`);
  t.notOk(lockPidFile(file), 'a stale file being taken over by a live process: refused');
  t.same(readFileSync(file, 'utf8'), `${ref.pid} 1\n`, 'and left to that process');
  // The guard of a process that died mid-takeover: removed, and the stale file taken over.
  writeFileSync(`${file}.takeover`, `${ref.pid} 1\n`);
  t.ok(lockPidFile(file), 'a dead takeover guard is removed and the stale file taken over');
  t.same(readPidFile(file), procRef(process.pid));
  t.same(readdirSync(dir), ['x.pid'], 'no guard or temporary file left behind');
});
