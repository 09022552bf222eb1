import { readFileSync } from 'node:fs';

/** Whether a process exists and is not a zombie (one that died but was not reaped yet counts as dead). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}
