import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { monotonicMs } from '../../../util/monotonic.js';

/**
 * A PID alone is not an identity: PIDs are reused. Pair it with the
 * process's start time (field 22 of /proc/PID/stat, in clock ticks since
 * boot), as conmon and runc do, so a recycled PID never passes for ours.
 */
export function procStartTime(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field 22 is rest[19].
  if (rest[0] === 'Z') return null; // a zombie has exited; only its parent's wait is missing
  return rest[19] ?? null;
}

export interface ProcRef {
  pid: number;
  startTime: string;
}

export function procRef(pid: number): ProcRef | null {
  const startTime = procStartTime(pid);
  return startTime === null ? null : { pid, startTime };
}

/** Whether the process is still the one we recorded (alive, not a zombie, PID not reused). */
export function isSameProcess(ref: ProcRef | undefined | null): boolean {
  if (!ref) return false;
  return procStartTime(ref.pid) === ref.startTime;
}

/**
 * Resolves true once `ref` is no longer that live process, false if it still
 * is after `ms`. Polled every 10 ms: the kernel closes a dying process's
 * sockets before it even looks like a zombie, so a peer whose connection just
 * closed can look alive for a moment.
 */
export async function untilGone(ref: ProcRef, ms: number): Promise<boolean> {
  const deadline = monotonicMs() + ms;
  while (isSameProcess(ref)) {
    if (monotonicMs() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** The holder a pid file names (`PID STARTTIME`), or null if it is missing or unreadable. */
export function readPidFile(file: string): ProcRef | null {
  try {
    const [pid, startTime] = readFileSync(file, 'utf8').trim().split(' ');
    return pid && startTime ? { pid: Number(pid), startTime } : null;
  } catch {
    return null;
  }
}

/**
 * Takes `file` as this process's exclusive pid file: false while a live
 * process holds it; one whose holder is gone is taken over. The file appears
 * by link(2), which is atomic and fails if it exists, already holding our PID
 * and start time: created empty and written after, a reader in between took
 * it for stale and took it over too.
 *
 * Taking over a stale file is two steps (remove it, link ours), so it is done
 * under a guard, `FILE.takeover`, itself taken by link(2): without it, two
 * processes that both found the same dead holder could each remove the file
 * and link their own, the second removing the first's, and both believe they
 * held it. Under the guard the file is read again before it is removed. A
 * guard whose holder died mid-takeover is removed by the next comer; only two
 * processes racing over such a guard can still both pass it.
 */
export function lockPidFile(file: string): boolean {
  const me = procRef(process.pid)!;
  const tmp = `${file}.${process.pid}.tmp`;
  const guard = `${file}.takeover`;
  const link = (to: string): boolean => {
    try {
      linkSync(tmp, to);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return false;
    }
  };
  writeFileSync(tmp, `${me.pid} ${me.startTime}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (link(file)) return true;
      const holder = readPidFile(file);
      if (isSameProcess(holder)) return false;
      if (!link(guard)) {
        // Another process is taking it over now (it will hold it), or one died doing so.
        if (isSameProcess(readPidFile(guard))) return false;
        rmSync(guard, { force: true });
        continue;
      }
      try {
        const now = readPidFile(file);
        // Taken meanwhile by a process that found it free, or by a takeover that just ended.
        if (now && isSameProcess(now)) return false;
        rmSync(file, { force: true });
        if (link(file)) return true;
      } finally {
        rmSync(guard, { force: true });
      }
    }
    return false;
  } finally {
    rmSync(tmp, { force: true });
  }
}
