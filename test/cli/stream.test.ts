import t from 'tap';
import { Demuxer, kindFromContentType, LinePrefixer } from '../../src/cli/logs/demux.js';
import { isConverged, pendingReasons } from '../../src/cli/progress/converge.js';
import { bar, PlainProgress, summary, TtyProgress, type Snapshot } from '../../src/cli/progress/render.js';
import type { Task } from '../../src/model/index.js';

const frame = (stream: number, s: string) => {
  const body = Buffer.from(s);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
};

t.test('multiplexed frames, split anywhere across chunks', async (t) => {
  const all = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, 'out two\n')]);
  for (let cut = 1; cut < all.length; cut += 3) {
    const got: string[] = [];
    const d = new Demuxer('multiplexed', (s, b) => got.push(`${s}:${b.toString()}`));
    d.push(all.subarray(0, cut));
    d.push(all.subarray(cut));
    d.end();
    t.same(got, ['stdout:out one\n', 'stderr:err one\n', 'stdout:out two\n'], `cut at ${cut}`);
  }
});

t.test('raw (TTY) streams and sniffing when the Content-Type does not say', async (t) => {
  t.equal(kindFromContentType('application/vnd.docker.multiplexed-stream'), 'multiplexed');
  t.equal(kindFromContentType('application/vnd.docker.raw-stream'), 'raw');
  t.equal(kindFromContentType('text/plain'), undefined);
  let got = '';
  const raw = new Demuxer(undefined, (_s, b) => (got += b.toString()));
  raw.push(Buffer.from('hello '));
  raw.push(Buffer.from('world\n'));
  raw.end();
  t.equal(got, 'hello world\n', 'plain text is raw');
  const seen: string[] = [];
  const sniffed = new Demuxer(undefined, (s, b) => seen.push(`${s}:${b.toString()}`));
  sniffed.push(frame(2, 'x\n'));
  sniffed.end();
  t.same(seen, ['stderr:x\n'], 'a header-shaped start is multiplexed');
  const short: string[] = [];
  const tiny = new Demuxer(undefined, (_s, b) => short.push(b.toString()));
  tiny.push(Buffer.from('hi\n'));
  tiny.end();
  t.same(short, ['hi\n'], 'a raw stream shorter than a header still prints');
});

t.test('details become docker task prefixes; lines are reassembled', async (t) => {
  const out: string[] = [];
  const p = new LinePrefixer(
    (a) => `web.1.${a['com.docker.swarm.task.id']!.slice(0, 4)}@worker1`,
    (_s, l) => out.push(l),
  );
  p.push('stdout', Buffer.from('com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t123456 hel'));
  p.push('stdout', Buffer.from('lo\nno details here\n2026-01-01T00:00:00.000000000Z com.docker.swarm.task.id=t1234 stamped\npartial'));
  p.end();
  t.same(out, ['web.1.t123@worker1    | hello\n', 'no details here\n', '2026-01-01T00:00:00.000000000Z web.1.t123@worker1    | stamped\n', 'partial\n']);
});

const task = (slot: number, state: Task['Status']['State'], message = ''): Task =>
  ({ ID: `t${slot}`, Name: `web.${slot}`, Slot: slot, Status: { State: state, Message: message, Timestamp: '' } }) as Task;

t.test('convergence: when it is reached, and what is said when it is not', async (t) => {
  const snap = (tasks: Task[], desired = 3, updateState?: string): Snapshot => ({ name: 'web', desired, tasks, ...(updateState ? { updateState } : {}) });
  t.ok(isConverged(snap([task(1, 'running'), task(2, 'running'), task(3, 'running')]), false));
  t.notOk(isConverged(snap([task(1, 'running'), task(2, 'running')]), false), 'a task missing');
  t.notOk(isConverged(snap([task(1, 'running'), task(2, 'running'), task(3, 'running'), task(4, 'running')]), false), 'one too many (scaling down)');
  t.notOk(isConverged(snap([task(1, 'running'), task(2, 'running'), task(3, 'running')], 3, 'updating'), true), 'update still in progress');
  t.ok(isConverged(snap([], 0), false), 'zero replicas');
  const pending = snap([task(1, 'running'), task(2, 'pending', 'no suitable node (insufficient memory on 2 nodes)'), task(3, 'pending', 'no suitable node (insufficient memory on 2 nodes)')], 4);
  t.equal(pendingReasons(pending), 'web.2 and web.3 pending: no suitable node (insufficient memory on 2 nodes); 1 task not created yet');
  t.equal(summary(pending), '1/4 running (2 pending)');
  const lines: string[] = [];
  const v = new PlainProgress({ write: (s: string) => lines.push(s) });
  v.update(pending);
  v.update(pending);
  v.update(snap([task(1, 'running'), task(2, 'running'), task(3, 'running')]));
  t.same(lines, ['web\n', '1/4 running (2 pending)\n', '3/3 running\n'], 'a line per change, none repeated');
  t.equal(bar('running'), `[${'='.repeat(49)}>]`);
  t.equal(bar(undefined), `[${' '.repeat(50)}]`);
});

t.test('on a terminal: one bar per slot, redrawn in place', async (t) => {
  let screen = '';
  const v = new TtyProgress({ write: (s: string) => (screen += s), columns: 100 });
  v.update({ name: 'web', desired: 2, tasks: [task(1, 'running'), task(2, 'pending', 'no suitable node')] });
  t.equal(
    screen,
    `\x1b[2Kweb\n\x1b[2Koverall progress: 1 out of 2 tasks\n\x1b[2K1/2: running   ${bar('running')}\n\x1b[2K2/2: pending   ${bar('pending')} no suitable node\n`,
  );
  screen = '';
  v.update({ name: 'web', desired: 2, tasks: [task(1, 'running'), task(2, 'running')] });
  t.match(screen, /^\x1b\[4A\x1b\[2Kweb\n/, 'moves up over the previous frame');
  t.match(screen, /overall progress: 2 out of 2 tasks/);
});
