import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants, existsSync, openSync } from 'node:fs';
import net from 'node:net';
import { arch, constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { packageRoot } from '../../util/version.js';
import { FORKER_SCRIPT } from './forker-script.js';

/** prctl(2)'s syscall number, which Perl's syscall() needs (perl-base ships no syscall.ph). */
const PRCTL_SYSCALL: Partial<Record<string, number>> = { x64: 157, arm64: 167, ia32: 172, arm: 172, riscv64: 167, ppc64: 171, s390x: 172 };
const PERL_CANDIDATES = ['/usr/bin/perl', '/bin/perl'];

/** Which forker runs the tasks: the C one (built by `npm run build` when there is a compiler) or the Perl one. */
export type ForkerBinary = { kind: 'c'; path: string } | { kind: 'perl'; perl: string; prctl: number };

/**
 * The best forker this machine has, or null (then tasks are spawned by Node
 * behind setpriv). SHOAL_TASK_FORKER=perl|c|node picks one (tests run each).
 */
export function forkerAvailable(choice = process.env.SHOAL_TASK_FORKER): ForkerBinary | null {
  if (choice === 'node') return null;
  const c = nativeForkerPath();
  if (c && choice !== 'perl') return { kind: 'c', path: c };
  if (choice === 'c') return null;
  const perl = PERL_CANDIDATES.find((p) => existsSync(p));
  const prctl = PRCTL_SYSCALL[arch()];
  return perl && prctl !== undefined ? { kind: 'perl', perl, prctl } : null;
}

/** The compiled C forker, if the build made one (native-build.ts). */
export function nativeForkerPath(): string | null {
  const file = path.join(packageRoot(), NATIVE_FORKER);
  return existsSync(file) ? file : null;
}

/** Where the build puts the C forker, relative to the package root. */
export const NATIVE_FORKER = 'dist/native/shoal-forker';

/** The forkers' process names (comm): what a task's parent is called, for tools that look for tasks. */
export const FORKER_COMMS: readonly string[] = ['shoal-forker', 'perl'];


export interface ForkRequest {
  argv: string[];
  cwd?: string;
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  /** The task's priority (the supervisor's own is raised; its tasks must not inherit that). */
  nice?: number;
  /** cgroup.procs files the child joins between fork and exec (exit 125 when it cannot). */
  cgroupProcs?: string[];
  /** SIGKILL the task's process group when its leader exits (its background leftovers hold the log pipes). */
  killGroupOnExit: boolean;
}

/**
 * One task the forker started: the subset of ChildProcess the holder uses.
 * Events: 'spawn' (forked; an exec failure follows as 'exit' 127/126 with
 * `execError` set), 'exit' (code, signal), 'close' (exited and both pipes
 * drained), 'error' (it could not be forked at all).
 */
export class ForkedTask extends EventEmitter {
  pid: number | undefined;
  /** @internal the forker's request number */
  seq = 0;
  stdout: Readable | null = null;
  stderr: Readable | null = null;
  /** The child's /proc start time, which it read itself before exec. */
  startTime?: string;
  /** Why exec failed, from the child itself (e.g. "exec /x: No such file or directory"). */
  execError?: { code: string; message: string };
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  private open = 0;
  private exited = false;
  private attached = false;
  private spawned = false;

  constructor(private readonly forker: TaskForker) {
    super();
  }

  /** Signals the task (its whole process group when `group`); false once it has been reaped. */
  kill(sig: NodeJS.Signals = 'SIGTERM', group = false): boolean {
    if (this.pid === undefined || this.exited) return false;
    return this.forker.signal(this.pid, sig, group);
  }

  /** @internal */
  attach(pid: number, out: Readable, err: Readable): void {
    this.pid = pid;
    this.stdout = out;
    this.stderr = err;
    for (const s of [out, err]) {
      this.open++;
      let done = false;
      const end = () => {
        if (done) return;
        done = true;
        this.open--;
        this.maybeClose();
      };
      s.once('end', end);
      s.once('close', end);
      s.once('error', end);
    }
    this.attached = true;
    this.maybeSpawn();
  }

  /** @internal 'spawn' once forked and the child has told its start time (or why it failed). */
  maybeSpawn(): void {
    if (this.spawned || !this.attached || (this.startTime === undefined && this.execError === undefined && !this.exited)) return;
    this.spawned = true;
    this.emit('spawn');
  }

  /** @internal */
  reaped(status: number): void {
    if (this.exited) return;
    this.exited = true;
    this.maybeSpawn();
    const sig = status & 0x7f;
    if (sig === 0) this.exitCode = (status >> 8) & 0xff;
    else this.signalCode = signalNameOf(sig);
    this.emit('exit', this.exitCode, this.signalCode);
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.exited && this.open === 0) setImmediate(() => this.emit('close', this.exitCode, this.signalCode));
  }
}

function signalNameOf(n: number): NodeJS.Signals {
  for (const [name, num] of Object.entries(osConstants.signals)) if (num === n) return name as NodeJS.Signals;
  return 'SIGKILL';
}

function hex(s: string): string {
  return 'x' + Buffer.from(s, 'utf8').toString('hex');
}

function num(n: number | undefined): string {
  return n === undefined ? '-' : String(Math.trunc(n));
}

/**
 * The supervisor's side of the task forker (forker-script.ts says what it
 * guarantees and why it is not Node; forker.c why a C one when it can be built). Requests are queued on its stdin; each
 * answer comes back in order on its stdout. If the forker dies, every task
 * it held died with it (PR_SET_PDEATHSIG): each is reported as killed, and
 * the next start runs a new forker.
 */
export class TaskForker {
  private proc: ChildProcess | null = null;
  private seq = 0;
  /** The running forker's forked tasks by PID (each forker has its own: PIDs of a dead one's tasks may be reused under the next). */
  private byPid = new Map<number, ForkedTask>();
  /** Every task from its request until it is reaped, by request number (one without a PID is not forked yet). */
  private readonly bySeq = new Map<number, ForkedTask>();
  private closed = false;

  constructor(
    private readonly bin: ForkerBinary,
    private readonly diag: (msg: string) => void,
    /** unref: the forker keeps this process alive only while a child it started has not been reaped. */
    private readonly opts: { unref?: boolean } = {},
  ) {}

  spawn(req: ForkRequest): ForkedTask {
    const t = new ForkedTask(this);
    if (this.closed) {
      setImmediate(() => t.emit('error', Object.assign(new Error('the task forker is closed'), { code: 'ESHUTDOWN' })));
      return t;
    }
    const seq = ++this.seq;
    const env = Object.entries(req.env).map(([k, v]) => `${k}=${v}`);
    const line = ['S', seq, num(req.uid), num(req.gid), num(req.nice), req.killGroupOnExit ? 1 : 0, req.cwd ? hex(req.cwd) : '-', req.cgroupProcs?.length ?? 0, ...(req.cgroupProcs ?? []).map(hex), req.argv.length, ...req.argv.map(hex), env.length, ...env.map(hex)].join(' ');
    t.seq = seq;
    this.bySeq.set(seq, t);
    this.write(line);
    this.holdAlive();
    return t;
  }

  /** @internal Sent only for a PID the forker has not reaped; it checks again itself. */
  signal(pid: number, sig: NodeJS.Signals, group: boolean): boolean {
    if (!this.byPid.has(pid) || !this.proc) return false;
    this.write(`K ${pid} ${sig.replace(/^SIG/, '')} ${group ? 1 : 0}`);
    return true;
  }

  /** Ends the forker: tasks still running die with it. */
  close(): void {
    this.closed = true;
    this.proc?.stdin?.end();
  }

  get kind(): ForkerBinary['kind'] {
    return this.bin.kind;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private write(line: string): void {
    const p = this.proc ?? this.startForker();
    p.stdin!.write(line + '\n');
  }

  private startForker(): ChildProcess {
    const [file, args] = this.bin.kind === 'c' ? [this.bin.path, [String(process.pid)]] : [this.bin.perl, ['-e', FORKER_SCRIPT, String(this.bin.prctl), String(process.pid)]];
    const p = spawn(file, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    this.proc = p;
    // This forker's own: the answers of one that exited may still be read after the next one started.
    const pids = new Map<number, ForkedTask>();
    this.byPid = pids;
    let buf = '';
    p.stdout!.setEncoding('latin1');
    p.stdout!.on('data', (c: string) => (buf = this.onData(p, pids, buf + c)));
    p.stderr!.on('data', (c: Buffer) => this.diag(`forker: ${c.toString().trim()}`));
    p.stdin!.on('error', (err) => this.diag(`forker stdin: ${err.message}`));
    p.on('error', (err) => this.diag(`forker: ${err.message}`));
    p.on('exit', (code, signal) => this.onForkerExit(p, code, signal));
    if (this.opts.unref) {
      p.unref();
      for (const s of [p.stdin, p.stderr]) (s as unknown as { unref?: () => void } | null)?.unref?.();
      this.holdAlive();
    }
    return p;
  }

  /** Handles the whole lines in `buf`; returns the partial one left. */
  private onData(p: ChildProcess, pids: Map<number, ForkedTask>, buf: string): string {
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        this.onLine(p, pids, line);
      } catch (err) {
        this.diag(`forker: cannot handle ${JSON.stringify(line.slice(0, 200))}: ${(err as Error).message}`);
      }
    }
    return buf;
  }

  private onLine(p: ChildProcess, pids: Map<number, ForkedTask>, line: string): void {
    const f = line.split(' ');
    switch (f[0]) {
      case 'P': {
        const seq = Number(f[1]);
        const pid = Number(f[2]);
        const t = this.bySeq.get(seq);
        // From a forker that has exited: its fds are gone (its PID may be someone else's by now), and
        // the task died with it; it is reported when the forker's answers end.
        if (p !== this.proc) return;
        const out = this.openPipe(p, Number(f[3]));
        const err = this.openPipe(p, Number(f[4]));
        // Our own ends are open: the forker may drop its copies (the task has had its ends since the fork).
        p.stdin!.write(`C ${seq}\n`);
        if (!t) return;
        pids.set(pid, t);
        t.attach(pid, out, err);
        return;
      }
      case 'F': {
        // Written by the child itself: it may overtake the forker's P line for the same task.
        const t = this.bySeq.get(Number(f[1]));
        const message = Buffer.from((f[3] ?? 'x').slice(1), 'hex').toString('utf8');
        if (t) t.execError = { code: f[2] ?? 'EIO', message };
        t?.maybeSpawn();
        return;
      }
      case 'T': {
        const t = this.bySeq.get(Number(f[1]));
        if (t && /^\d+$/.test(f[2] ?? '')) t.startTime = f[2];
        t?.maybeSpawn();
        return;
      }
      case 'X': {
        const pid = Number(f[1]);
        const t = pids.get(pid);
        pids.delete(pid);
        if (t) this.bySeq.delete(t.seq);
        t?.reaped(Number(f[2]));
        this.holdAlive();
        return;
      }
      case 'E': {
        const why = Buffer.from((f[2] ?? 'x').slice(1), 'hex').toString('utf8');
        const t = this.bySeq.get(Number(f[1]));
        if (!t || t.pid !== undefined) return this.diag(`forker dropped a request: ${why}`);
        this.bySeq.delete(t.seq);
        t.emit('error', Object.assign(new Error(why), { code: 'EFORK' }));
        this.holdAlive();
        return;
      }
      default:
        this.diag(`forker: unknown answer ${JSON.stringify(line.slice(0, 200))}`);
    }
  }

  /** In unref mode: its answers keep this process alive while any child is outstanding (the exit arrives there), and only then. */
  private holdAlive(): void {
    if (!this.opts.unref || !this.proc?.stdout) return;
    const out = this.proc.stdout as unknown as { ref(): void; unref(): void };
    if (this.bySeq.size > 0) out.ref();
    else out.unref();
  }

  private openPipe(p: ChildProcess, fd: number): Readable {
    const file = `/proc/${p.pid}/fd/${fd}`;
    const own = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK); // libuv adds O_CLOEXEC
    return new net.Socket({ fd: own, readable: true, writable: false });
  }

  private onForkerExit(p: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.proc !== p) return;
    this.proc = null;
    if (!this.closed) this.diag(`forker ${p.pid} exited (${signal ?? code}): its tasks died with it`);
    // Its tasks as of now: a forker started after it numbers its own after these.
    const mine = [...this.bySeq.values()];
    const pids = this.byPid;
    const finish = (): void => {
      // Forked ones received SIGKILL from the kernel when it died; report them so. The rest were never forked.
      for (const t of mine) {
        if (this.bySeq.get(t.seq) !== t) continue; // its X line came: reported with its own code
        this.bySeq.delete(t.seq);
        if (t.pid !== undefined) {
          pids.delete(t.pid);
          t.reaped(9);
        } else t.emit('error', Object.assign(new Error(`the task forker exited (${signal ?? code})`), { code: 'ECHILD' }));
      }
      this.holdAlive();
    };
    // Node may emit 'exit' before the last answers the forker wrote are read: an X line with a
    // child's real exit code would have been reported as a kill (137). Read its stdout to the end
    // first; at most 1 s, as a task forked just before may hold the pipe until its death signal.
    // finish() reports only what is still outstanding, so a second call (the pipe closing after the
    // timer) finds nothing left to do.
    const out = p.stdout;
    if (mine.length === 0 || !out || out.destroyed) return finish();
    const timer = setTimeout(finish, 1_000);
    out.once('close', () => {
      clearTimeout(timer);
      finish();
    });
  }
}
