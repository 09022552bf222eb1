import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

/**
 * State files are written by one process (the supervisor or the agent) and read by
 * another at any moment, possibly across a crash: write a temp file, fsync,
 * rename over the target, so a reader sees the old file or the new one, never
 * a torn one. Synchronous on purpose: the supervisor must not lose an exit status
 * to a pending promise when it exits right after.
 */
export function writeFileAtomic(file: string, data: string, durable = true): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, data);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * `durable: false` skips the fsync where only other processes, never a
 * power loss, must find the file whole (the rename alone guarantees that): a
 * task's PID, say, is worthless after the machine restarts anyway.
 */
export function writeJsonAtomic(file: string, value: unknown, durable = true): void {
  writeFileAtomic(file, JSON.stringify(value) + '\n', durable);
}

/** The parsed file, or undefined when it does not exist (or is unreadable garbage from a crash). */
export function readJson<T>(file: string): T | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}
