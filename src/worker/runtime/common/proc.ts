import { linkSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

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
 */
export function lockPidFile(file: string): boolean {
  const me = procRef(process.pid)!;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${me.pid} ${me.startTime}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, file);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      if (isSameProcess(readPidFile(file))) return false;
      rmSync(file, { force: true });
    }
    return false;
  } finally {
    rmSync(tmp, { force: true });
  }
}
