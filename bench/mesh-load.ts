/**
 * The steady client of bench:mesh's rolling-update phase, run by the bench
 * inside a task's network namespace (`nsenter -t PID -n node mesh-load.js
 * URL CONCURRENCY`): CONCURRENCY loops of HTTP GETs, each on a new
 * connection (so every request is a fresh load-balancing decision), counting
 * failures — connection errors, resets, timeouts (2 s) and non-200 answers;
 * a loop pauses 10 ms after a failure before its next request.
 * It runs until its stdin closes, then prints one JSON line: {total, failed,
 * errors: {kind: count}, firstFailures: [{at, err}]}. A line "ready" on stdout once the first request
 * succeeded.
 */
import http from 'node:http';

const url = process.argv[2]!;
const conc = Number(process.argv[3] ?? 4);
let total = 0;
let failed = 0;
const errors: Record<string, number> = {};
/** The first failures, each with its wall-clock time (the bench lines them up with task events). */
const firstFailures: { at: number; err: string }[] = [];
let stopping = false;
let readySent = false;

function once(): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (err: string | null) => {
      if (done) return;
      done = true;
      total++;
      if (err) {
        failed++;
        errors[err] = (errors[err] ?? 0) + 1;
        if (firstFailures.length < 50) firstFailures.push({ at: Date.now(), err });
      } else if (!readySent) {
        readySent = true;
        process.stdout.write('ready\n');
      }
      resolve();
    };
    const req = http.get(url, { agent: false, timeout: 2_000, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => finish(res.statusCode === 200 ? null : `status ${res.statusCode}`));
      res.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
    });
    req.on('timeout', () => {
      req.destroy();
      finish('timeout');
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
  });
}

async function loop(): Promise<void> {
  while (!stopping) {
    const before = failed;
    await once();
    // A refused connection fails in microseconds: without a pause a loop spins thousands of times a
    // second while a VIP refuses (a client retrying at once), which once exhausted this process's heap.
    if (failed > before) await new Promise((r) => setTimeout(r, 10));
  }
}

process.stdin.resume();
process.stdin.on('end', () => (stopping = true));
process.stdin.on('close', () => (stopping = true));
const loops = Array.from({ length: conc }, () => loop());
await Promise.all(loops);
process.stdout.write(JSON.stringify({ total, failed, errors, firstFailures }) + '\n');
process.exit(0);
