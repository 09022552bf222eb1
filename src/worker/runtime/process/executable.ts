/**
 * Finds the program a process task will exec, the way execvp does (and the
 * `exec "$@"` of the task's sh prelude, which is what really runs it): a name
 * with a '/' is that path, relative to the task's working directory; any
 * other name is searched in the task's PATH, first match that can run wins.
 *
 * Why at all: the prelude is a shell, so a program that cannot run shows up
 * only as exit 127 and "not found" on the task's own stderr, and the restart
 * policy then replaces the task every few seconds with nobody told why.
 * Checked at create time, the task is rejected with a reason the CLI shows
 * (`shoal service ps`), in Docker's words: executable file not found: "300".
 *
 * What is not checked (the prelude's 126/127 still covers them): search
 * permission on the directories leading to the file for a task that runs as
 * another uid, ACLs, noexec mounts for such a task, and a file that changes
 * between create and start.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../interface.js';

export interface ExecContext {
  /** The task's working directory: relative programs and relative PATH entries resolve against it. */
  cwd: string;
  /** The PATH of the task's own environment (an empty entry means the working directory, as POSIX says). */
  pathVar: string;
  /**
   * The user the task runs as, when that is not the node's own user (the
   * process runtime switches user only when the node runs as root). Its
   * supplementary groups do not count: the supervisor's spawn drops them.
   */
  user?: { uid: number; gid: number };
}

/** Why a candidate cannot be exec'd, or null when it can. */
export function whyNotExecutable(file: string, user?: { uid: number; gid: number }): string | null {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return NO_SUCH_FILE;
    if (code === 'EACCES') return 'a directory on its path cannot be searched';
    return (err as Error).message;
  }
  if (st.isDirectory()) return 'is a directory';
  if (!st.isFile()) return 'is not a regular file';
  const mode = `mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
  if (user) {
    // The kernel's rule: root needs any x bit; else the owner's bits if it owns the file, else the group's, else other's.
    const bits = user.uid === 0 ? 0o111 : st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    return (st.mode & bits) !== 0 ? null : `is not executable by uid ${user.uid} (${mode})`;
  }
  try {
    // The task runs as the node's own user: access(2) answers for exactly that user and its groups.
    accessSync(file, constants.X_OK);
    return null;
  } catch {
    return `is not executable by uid ${process.getuid?.() ?? '?'} (${mode})`;
  }
}

const NO_SUCH_FILE = 'no such file';

function notFound(prog: string, why: string): RuntimeError {
  // The reason leads (no "task <id>:" prefix): `service ps` shows the first 30 characters of a task's error.
  return new RuntimeError('INVALID_SPEC', `executable file not found: ${JSON.stringify(prog)} (${why})`);
}

/**
 * The file `prog` names for the task (absolute), or INVALID_SPEC
 * "executable file not found: "<prog>" (why)".
 */
export function resolveExecutable(prog: string, ctx: ExecContext): string {
  if (prog === '') throw notFound(prog, 'the program name is empty');
  if (prog.includes('/')) {
    const file = path.resolve(ctx.cwd, prog);
    const why = whyNotExecutable(file, ctx.user);
    if (why !== null) throw notFound(prog, file === prog ? why : `${file}: ${why}`);
    return file;
  }
  // Candidates that exist but cannot run are skipped, as execvp and sh do; they are named in the error, since they are what the user most likely meant.
  const skipped: string[] = [];
  for (const dir of ctx.pathVar.split(':')) {
    const file = path.resolve(ctx.cwd, dir, prog);
    const why = whyNotExecutable(file, ctx.user);
    if (why === null) return file;
    if (why !== NO_SUCH_FILE) skipped.push(`${file}: ${why}`);
  }
  throw notFound(prog, `${skipped.length > 0 ? `${skipped.join('; ')}; ` : ''}searched PATH=${ctx.pathVar}`);
}
