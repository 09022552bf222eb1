import { closeSync, constants, openSync, readFileSync, readSync } from 'node:fs';

/**
 * OOM kills from the kernel log, as cAdvisor's oomparser finds them: the
 * memcg OOM killer logs one record per kill,
 *   oom-kill:constraint=CONSTRAINT_MEMCG,...,oom_memcg=/a/b,task_memcg=/a/b,task=tail,pid=123,uid=0
 * Used where the cgroup's own counter is gone by the time we can look (crun
 * removes the container's cgroup as it exits). Reading /dev/kmsg needs root;
 * without it this returns false, and OOM is simply not reported.
 */
export function kmsgReportsOomKill(memcgPathSuffix: string, sinceMs?: number): boolean {
  let fd: number;
  try {
    fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  const bootMs = sinceMs === undefined ? undefined : Date.now() - uptimeMs();
  const buf = Buffer.alloc(16 * 1024);
  let found = false;
  try {
    for (let i = 0; i < 200_000; i++) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') continue; // records overwritten under us: the next read resumes
        break; // EAGAIN: no more records
      }
      if (n <= 0) break;
      const rec = buf.toString('utf8', 0, n);
      const semi = rec.indexOf(';');
      const msg = rec.slice(semi + 1);
      if (!msg.startsWith('oom-kill:')) continue;
      if (bootMs !== undefined && sinceMs !== undefined) {
        // Header "prio,seq,usecs-since-boot,flags".
        const usec = Number(rec.slice(0, semi).split(',')[2]);
        if (Number.isFinite(usec) && bootMs + usec / 1000 < sinceMs - 1_000) continue;
      }
      const m = /oom_memcg=([^,\n]*)/.exec(msg);
      const t = /task_memcg=([^,\n]*)/.exec(msg);
      if ((m && m[1]!.endsWith(memcgPathSuffix)) || (t && t[1]!.endsWith(memcgPathSuffix))) found = true;
    }
  } finally {
    closeSync(fd);
  }
  return found;
}

/** Milliseconds since boot, from /proc/uptime (kmsg stamps records in microseconds since boot). */
function uptimeMs(): number {
  try {
    return Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1000);
  } catch {
    return 0;
  }
}
