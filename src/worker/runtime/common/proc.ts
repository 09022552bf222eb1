import { readFileSync } from 'node:fs';

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
