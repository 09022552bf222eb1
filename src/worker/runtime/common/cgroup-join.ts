/**
 * A task must be in its cgroups before it runs a single instruction of its
 * own (else it could fork or allocate outside its limits), and Node cannot
 * run code between fork and exec. Where nothing else can (no task forker; a
 * command exec'd into a running task), a tiny POSIX sh prelude writes its own
 * PID into each cgroup.procs and then execs the command:
 *   sh -c '<join>' shoal-task N procs1 … procsN cmd args…
 */
// sh exports PWD on its own; `unset` keeps the task's environment exactly its own.
const JOIN = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; unset PWD; exec "$@"';
const JOIN_KEEP_PWD = JOIN.replace('unset PWD; ', '');

/** argv that joins the cgroups whose cgroup.procs files are given, then execs `argv`. */
export function joinedArgv(tag: string, procs: string[], argv: string[], env: Record<string, string>): string[] {
  return ['/bin/sh', '-c', 'PWD' in env ? JOIN_KEEP_PWD : JOIN, tag, String(procs.length), ...procs, ...argv];
}
