/*
 * shoal-forker: the task forker in C, built by `npm run build` when the
 * machine has a C compiler (src/worker/native-build.ts). Same protocol and guarantees
 * as the Perl forker (forker-script.ts holds the protocol and the why);
 * this one exists because it is cheaper per task:
 *
 *  - vfork(): the child borrows the forker's memory until it execs, so no
 *    page tables are copied and no copy-on-write fault is taken. On a small
 *    VM a Perl fork + exec of `sleep` costs ~12 ms of CPU, this ~4 ms.
 *  - Everything the child needs (argv, envp, paths) is prepared by the
 *    parent before the vfork; the child only makes system calls and writes
 *    to its own stack, which is what vfork allows.
 *  - SIGCHLD stays blocked except inside ppoll(), so an exit can never slip
 *    in between reaping and waiting (no timeout is needed to cover it).
 *
 * Built with -DSHOAL_LIBCRUN (native-build.ts does so when Debian's crun
 * package ships libcrun.a of a version whose API is declared in
 * forker-libcrun.h), a `crun --root R run --bundle B --pid-file P ID` request
 * is run by libcrun inside a fork of the forker instead of an exec of crun:
 * the same library code the crun binary runs, minus loading and linking a
 * 12-library executable per container, which on a small VM is a large part
 * of what starting a container costs (bench:density prints both:
 * oci_floor_ms through the crun binary, oci_floor_libcrun_ms through this).
 * The child is otherwise what the exec'd crun would be: same cgroups,
 * credentials, PDEATHSIG, stdio, environment, exit status.
 *
 * Usage: shoal-forker PARENT_PID. Requests on stdin, answers on stdout.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef SHOAL_LIBCRUN
#include <sys/stat.h>
#include "forker-libcrun.h"
#endif

/* ---- output: buffered lines to the supervisor ---- */

static char *out;
static size_t out_len, out_cap;

static void out_put(const char *s, size_t n) {
  if (out_len + n > out_cap) {
    size_t cap = out_cap ? out_cap : 4096;
    while (cap < out_len + n) cap *= 2;
    char *p = realloc(out, cap);
    if (!p) _exit(70);
    out = p;
    out_cap = cap;
  }
  memcpy(out + out_len, s, n);
  out_len += n;
}

static void out_printf(const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out_put(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static void out_hex(const char *s, size_t n) {
  static const char digits[] = "0123456789abcdef";
  out_put("x", 1);
  for (size_t i = 0; i < n; i++) {
    char h[2] = {digits[(unsigned char)s[i] >> 4], digits[(unsigned char)s[i] & 15]};
    out_put(h, 2);
  }
}

static void out_flush(void) {
  size_t off = 0;
  while (off < out_len) {
    ssize_t n = write(1, out + off, out_len - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(0); /* the supervisor is gone: so are we (and the tasks, by PDEATHSIG) */
    }
    off += (size_t)n;
  }
  out_len = 0;
}

/* ---- what the forker holds ---- */

struct kid { pid_t pid; int killgroup; };
struct pipes { long seq; int out, err; };
static struct kid *kids;
static size_t nkids, capkids;
static struct pipes *pipes_;
static size_t npipes, cappipes;

static void *grow(void *p, size_t *cap, size_t need, size_t size) {
  if (need <= *cap) return p;
  size_t c = *cap ? *cap * 2 : 64;
  while (c < need) c *= 2;
  void *q = realloc(p, c * size);
  if (!q) _exit(70);
  *cap = c;
  return q;
}

static int kid_index(pid_t pid) {
  for (size_t i = 0; i < nkids; i++)
    if (kids[i].pid == pid) return (int)i;
  return -1;
}

/* ---- the children's report pipe (start times, exec failures) ---- */

static int cr = -1, cw = -1;
static char cbuf[65536];
static size_t clen;

/* Moves whole lines the children wrote into the output, in the order written. */
static void drain(void) {
  for (;;) {
    if (clen == sizeof cbuf) { out_put(cbuf, clen); clen = 0; } /* a line this long is not ours to split */
    ssize_t n = read(cr, cbuf + clen, sizeof cbuf - clen);
    if (n <= 0) break;
    clen += (size_t)n;
  }
  size_t last = 0;
  for (size_t i = 0; i < clen; i++)
    if (cbuf[i] == '\n') last = i + 1;
  if (last) {
    out_put(cbuf, last);
    memmove(cbuf, cbuf + last, clen - last);
    clen -= last;
  }
}

static void reap(void) {
  int st;
  pid_t pid;
  while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
    int i = kid_index(pid);
    if (i < 0) continue;
    /* Background leftovers of a process task would hold its pipes open: the group goes with its leader. */
    if (kids[i].killgroup) kill(-pid, SIGKILL);
    kids[i] = kids[--nkids];
    /* A child's own lines (its start time, why it failed) were written before it exited: they go first. */
    drain();
    out_printf("X %d %d\n", (int)pid, st);
  }
}

/* ---- parsing a request ---- */

static int unhex(const char *s, char **res, size_t *len) {
  if (s[0] != 'x') return -1;
  s++;
  size_t n = strlen(s);
  if (n % 2) return -1;
  char *r = malloc(n / 2 + 1);
  if (!r) _exit(70);
  for (size_t i = 0; i < n / 2; i++) {
    int v = 0;
    for (int k = 0; k < 2; k++) {
      char c = s[2 * i + k];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) { free(r); return -1; }
      v = v * 16 + d;
    }
    r[i] = (char)v;
  }
  r[n / 2] = 0;
  *res = r;
  if (len) *len = n / 2;
  return 0;
}

/* A number, or '-' for none (*given = 0). */
static int num(const char *s, long *v, int *given) {
  if (!s) return -1;
  if (strcmp(s, "-") == 0) { if (given) *given = 0; *v = 0; return given ? 0 : -1; }
  char *end;
  errno = 0;
  long x = strtol(s, &end, 10);
  if (errno || end == s || *end) return -1;
  *v = x;
  if (given) *given = 1;
  return 0;
}

/* A string with no NUL inside (a path, an argument, NAME=value). */
static int str(const char *s, char **res) {
  size_t n;
  if (!s || unhex(s, res, &n) < 0) return -1;
  if (strlen(*res) != n) { free(*res); return -1; }
  return 0;
}

/* ---- the child, between vfork and exec: system calls on its own stack only ---- */

struct launch {
  long seq;
  int has_uid, has_gid, has_nice;
  long uid, gid, nice;
  char *cwd;
  char **cgroups;
  long ncg;
  char **argv;
  char **envp;
  int out_w, err_w;
  int in_process; /* run by libcrun in this (forked, not vforked) child */
  int native;     /* a helper command done by its system call (native_command) */
};

static const char *errname(int e, char *buf) {
  switch (e) {
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    default: {
      /* "E<n>", as the Perl forker says it */
      char tmp[16];
      int n = 0;
      unsigned v = (unsigned)e;
      do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v && n < 15);
      buf[0] = 'E';
      for (int i = 0; i < n; i++) buf[1 + i] = tmp[n - 1 - i];
      buf[1 + n] = 0;
      return buf;
    }
  }
}

static size_t put_s(char *b, size_t at, size_t cap, const char *s) {
  while (*s && at < cap) b[at++] = *s++;
  return at;
}

static size_t put_u(char *b, size_t at, size_t cap, unsigned long v) {
  char tmp[24];
  int n = 0;
  do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v && n < 23);
  while (n && at < cap) b[at++] = tmp[--n];
  return at;
}

/* "F seq CODE x<hex of 'what: strerror'>\n" on the report pipe, then exit with code. */
static void child_fail(const struct launch *l, int code, const char *what, const char *arg) {
  int e = errno;
  char msg[1024], line[2200], eb[16];
  size_t m = 0;
  m = put_s(msg, m, sizeof msg, what);
  if (arg) { m = put_s(msg, m, sizeof msg, " "); m = put_s(msg, m, sizeof msg, arg); }
  m = put_s(msg, m, sizeof msg, ": ");
  m = put_s(msg, m, sizeof msg, strerrordesc_np(e) ? strerrordesc_np(e) : "Unknown error");
  size_t k = 0;
  k = put_s(line, k, sizeof line, "F ");
  k = put_u(line, k, sizeof line, (unsigned long)l->seq);
  k = put_s(line, k, sizeof line, " ");
  k = put_s(line, k, sizeof line, errname(e, eb));
  k = put_s(line, k, sizeof line, " x");
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < m && k + 3 < sizeof line; i++) {
    line[k++] = digits[(unsigned char)msg[i] >> 4];
    line[k++] = digits[(unsigned char)msg[i] & 15];
  }
  line[k++] = '\n';
  (void)!write(cw, line, k);
  _exit(code);
}

/* execvp with the task's own PATH (from envp), on the stack. */
static void exec_path(const struct launch *l) {
  const char *file = l->argv[0];
  if (strchr(file, '/')) { execve(file, l->argv, l->envp); return; }
  const char *path = "/bin:/usr/bin";
  for (char **e = l->envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) { path = *e + 5; break; }
  size_t fl = strlen(file);
  int saw_eacces = 0;
  char buf[4096];
  for (const char *p = path;; p++) {
    const char *end = strchrnul(p, ':');
    size_t dl = (size_t)(end - p);
    if (dl + 1 + fl + 1 <= sizeof buf) {
      size_t k = 0;
      if (dl == 0) buf[k++] = '.';
      else { memcpy(buf, p, dl); k = dl; }
      buf[k++] = '/';
      memcpy(buf + k, file, fl + 1);
      execve(buf, l->argv, l->envp);
      if (errno == EACCES) saw_eacces = 1;
      else if (errno != ENOENT && errno != ENOTDIR && errno != ENAMETOOLONG) return;
    }
    if (*end == 0) break;
    p = end;
  }
  errno = saw_eacces ? EACCES : ENOENT;
}

/*
 * Two helper commands the node runs per oci task, done here by their one
 * system call instead of by exec'ing util-linux: `mount -t overlay overlay -o
 * lowerdir=L,upperdir=U,workdir=W /TARGET` and `umount [-l] /TARGET`
 * (rootfs.ts), when no credentials are asked for. mount(8) links six
 * libraries; at 300 tasks its execs alone cost a small VM ~3 s of CPU. For
 * exactly those three options mount(8) passes the -o string to the kernel
 * as the overlay's data with no mount flags, as this does; any other option
 * (nodev, ro, ...) or argv is exec'd as given. Failures: the reason on
 * stderr, and mount(8)'s exit status 32.
 */
enum { NATIVE_NONE, NATIVE_MOUNT_OVERLAY, NATIVE_UMOUNT, NATIVE_UMOUNT_LAZY };

/* "lowerdir=…,upperdir=…,workdir=…" and nothing else (no further comma: no other option). */
static int overlay_dirs_only(const char *o) {
  const char *u = strstr(o, ",upperdir="), *w = strstr(o, ",workdir=");
  if (strncmp(o, "lowerdir=", 9) != 0 || !u || !w || w < u) return 0;
  int commas = 0;
  for (const char *p = o; *p; p++) commas += *p == ',';
  return commas == 2;
}

static int native_command(char **argv) {
  int n = 0;
  while (argv[n]) n++;
  if (n == 7 && strcmp(argv[0], "mount") == 0 && strcmp(argv[1], "-t") == 0 && strcmp(argv[2], "overlay") == 0 &&
      strcmp(argv[3], "overlay") == 0 && strcmp(argv[4], "-o") == 0 && overlay_dirs_only(argv[5]) && argv[6][0] == '/')
    return NATIVE_MOUNT_OVERLAY;
  if (n == 2 && strcmp(argv[0], "umount") == 0 && argv[1][0] == '/') return NATIVE_UMOUNT;
  if (n == 3 && strcmp(argv[0], "umount") == 0 && strcmp(argv[1], "-l") == 0 && argv[2][0] == '/') return NATIVE_UMOUNT_LAZY;
  return NATIVE_NONE;
}

/* In the child, stdio in place: the command's system call, then exit as the binary would. */
static void run_native(int kind, char **argv) {
  const char *target = kind == NATIVE_MOUNT_OVERLAY ? argv[6] : kind == NATIVE_UMOUNT ? argv[1] : argv[2];
  long r = kind == NATIVE_MOUNT_OVERLAY ? syscall(SYS_mount, "overlay", target, "overlay", 0UL, argv[5])
                                        : syscall(SYS_umount2, target, kind == NATIVE_UMOUNT_LAZY ? MNT_DETACH : 0);
  if (r == 0) _exit(0);
  const char *why = strerrordesc_np(errno) ? strerrordesc_np(errno) : "Unknown error";
  char msg[4200];
  size_t k = 0;
  k = put_s(msg, k, sizeof msg - 1, kind == NATIVE_MOUNT_OVERLAY ? "mount: " : "umount: ");
  k = put_s(msg, k, sizeof msg - 1, target);
  k = put_s(msg, k, sizeof msg - 1, ": ");
  k = put_s(msg, k, sizeof msg - 1, why);
  msg[k++] = '\n';
  (void)!write(2, msg, k);
  _exit(32);
}

static void child(const struct launch *l) {
  setsid();
  /* Its start time pairs with its PID (a recycled PID never passes for it). Read here, by itself:
   * a read of /proc/PID/stat by anyone else waits while the process is in execve. */
  {
    char st[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      ssize_t n = read(fd, st, sizeof st - 1);
      close(fd);
      if (n > 0) {
        st[n] = 0;
        char *p = strrchr(st, ')');
        /* after ") ": state is field 0, starttime field 19 */
        int field = -1;
        char *start = NULL;
        if (p) for (p += 1; *p; p++) {
          if (*p == ' ') { field++; if (field == 19) start = p + 1; else if (field == 20) { *p = 0; break; } }
        }
        if (start) {
          char line[96];
          size_t k = 0;
          k = put_s(line, k, sizeof line, "T ");
          k = put_u(line, k, sizeof line, (unsigned long)l->seq);
          k = put_s(line, k, sizeof line, " ");
          k = put_s(line, k, sizeof line - 1, start);
          line[k++] = '\n';
          (void)!write(cw, line, k);
        }
      }
    }
  }
  /* Into its cgroups before it runs an instruction of its own (as root: before the credentials drop). */
  for (long i = 0; i < l->ncg; i++) {
    int fd = open(l->cgroups[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644); /* as the Perl one: a test stands in a plain file */
    if (fd < 0) child_fail(l, 125, "join", l->cgroups[i]);
    char pid[24];
    size_t k = put_u(pid, 0, sizeof pid - 1, (unsigned long)getpid());
    pid[k++] = '\n';
    if (write(fd, pid, k) < 0) child_fail(l, 125, "join", l->cgroups[i]);
    if (close(fd) < 0) child_fail(l, 125, "join", l->cgroups[i]);
  }
  if (l->has_nice) setpriority(PRIO_PROCESS, 0, (int)l->nice);
  /* Raw system calls: glibc's set*id wrappers coordinate threads through memory this child shares. */
  if (l->has_gid) {
    gid_t g = (gid_t)l->gid;
    if (syscall(SYS_setgroups, 1, &g) < 0 || syscall(SYS_setresgid, g, g, g) < 0) child_fail(l, 126, "setgid", NULL);
  }
  if (l->has_uid) {
    uid_t u = (uid_t)l->uid;
    if (syscall(SYS_setresuid, u, u, u) < 0) child_fail(l, 126, "setuid", NULL);
  }
  /* After the credentials change, which clears it. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) child_fail(l, 126, "prctl", NULL);
  if (getppid() == 1) _exit(137);
  if (l->cwd && chdir(l->cwd) < 0) child_fail(l, 126, "chdir", l->cwd);
  int devnull = open("/dev/null", O_RDONLY);
  if (devnull < 0 || dup2(devnull, 0) < 0) child_fail(l, 126, "stdin", NULL);
  if (devnull > 0) close(devnull);
  if (dup2(l->out_w, 1) < 0) child_fail(l, 126, "stdout", NULL);
  if (dup2(l->err_w, 2) < 0) child_fail(l, 126, "stderr", NULL);
  /* The task starts with default dispositions and nothing blocked (the forker ignores SIGPIPE and blocks SIGCHLD). */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(SIGPIPE, &dfl, NULL);
  sigaction(SIGCHLD, &dfl, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
#ifdef SHOAL_LIBCRUN
  if (l->in_process) crun_run_in_process(l->argv, l->envp); /* never returns */
#endif
  if (l->native) run_native(l->native, l->argv); /* never returns */
  exec_path(l);
  child_fail(l, errno == ENOENT ? 127 : 126, "exec", l->argv[0]);
}

/* ---- requests ---- */

static void free_strs(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/* Reads `count` strings from f[*i...] into a NULL-terminated array; NULL when malformed. */
static char **strs(char **f, int nf, int *i, long count) {
  if (count < 0 || count > nf - *i) return NULL;
  char **v = calloc((size_t)count + 1, sizeof *v);
  if (!v) _exit(70);
  for (long k = 0; k < count; k++) {
    if (str(f[(*i)++], &v[k]) < 0) { free_strs(v); return NULL; }
  }
  return v;
}

static const char *start(char **f, int nf) {
  struct launch l;
  memset(&l, 0, sizeof l);
  int i = 7;
  long kg, cgc, argc, envc;
  if (nf < 8) return "bad request";
  if (num(f[0], &l.seq, NULL) < 0) return "bad number";
  if (num(f[1], &l.uid, &l.has_uid) < 0 || num(f[2], &l.gid, &l.has_gid) < 0 || num(f[3], &l.nice, &l.has_nice) < 0) return "bad number";
  if (num(f[4], &kg, NULL) < 0) return "bad number";
  if (strcmp(f[5], "-") != 0 && str(f[5], &l.cwd) < 0) return "bad string";
  static char failed[256];
  const char *why = NULL;
  if (num(f[6], &cgc, NULL) < 0) { why = "bad number"; goto out; }
  l.ncg = cgc;
  if (!(l.cgroups = strs(f, nf, &i, cgc))) { why = "bad string"; goto out; }
  if (i >= nf || num(f[i++], &argc, NULL) < 0) { why = "bad number"; goto out; }
  if (!(l.argv = strs(f, nf, &i, argc))) { why = "bad string"; goto out; }
  if (i >= nf || num(f[i++], &envc, NULL) < 0) { why = "bad number"; goto out; }
  if (!(l.envp = strs(f, nf, &i, envc))) { why = "bad string"; goto out; }
  if (argc == 0 || i != nf) { why = "no argv"; goto out; }
  int po[2], pe[2];
  if (pipe2(po, O_CLOEXEC) < 0) { snprintf(failed, sizeof failed, "pipe: %s", strerror(errno)); why = failed; goto out; }
  if (pipe2(pe, O_CLOEXEC) < 0) { snprintf(failed, sizeof failed, "pipe: %s", strerror(errno)); close(po[0]); close(po[1]); why = failed; goto out; }
  l.out_w = po[1];
  l.err_w = pe[1];
#ifdef SHOAL_LIBCRUN
  l.in_process = crun_run_request(l.argv, l.envp);
#endif
  /* Done as root by the forker itself: only what runs with the forker's own credentials. */
  l.native = l.has_uid || l.has_gid ? NATIVE_NONE : native_command(l.argv);
  /* libcrun runs in the child, which needs memory of its own: fork, not vfork. */
  pid_t pid = l.in_process ? fork() : vfork();
  if (pid == 0) child(&l); /* never returns */
  /* errno is only ours when vfork failed: a child that ran shared it. */
  if (pid < 0) snprintf(failed, sizeof failed, "fork: %s", strerror(errno));
  close(po[1]);
  close(pe[1]);
  if (pid < 0) {
    close(po[0]);
    close(pe[0]);
    why = failed;
    goto out;
  }
  kids = grow(kids, &capkids, nkids + 1, sizeof *kids);
  kids[nkids++] = (struct kid){pid, kg ? 1 : 0};
  pipes_ = grow(pipes_, &cappipes, npipes + 1, sizeof *pipes_);
  pipes_[npipes++] = (struct pipes){l.seq, po[0], pe[0]};
  out_printf("P %ld %d %d %d\n", l.seq, (int)pid, po[0], pe[0]);
out:
  free(l.cwd);
  free_strs(l.cgroups);
  free_strs(l.argv);
  free_strs(l.envp);
  return why;
}

static const struct { const char *name; int sig; } SIGNALS[] = {
  {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"ILL", SIGILL}, {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},
  {"IOT", SIGIOT}, {"BUS", SIGBUS}, {"FPE", SIGFPE}, {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
  {"USR2", SIGUSR2}, {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT},
  {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
  {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"XCPU", SIGXCPU}, {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
  {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO}, {"POLL", SIGPOLL}, {"PWR", SIGPWR}, {"SYS", SIGSYS},
};

static const char *handle(char *line) {
  char *f[1 << 16];
  int nf = 0;
  for (char *p = line, *tok; (tok = strsep(&p, " ")) != NULL;) {
    if (nf == (int)(sizeof f / sizeof f[0])) return "request too long";
    f[nf++] = tok;
  }
  if (nf == 0) return "unknown request";
  if (strcmp(f[0], "S") == 0) return start(f + 1, nf - 1);
  if (strcmp(f[0], "C") == 0) {
    long seq;
    if (nf < 2 || num(f[1], &seq, NULL) < 0) return "bad number";
    for (size_t i = 0; i < npipes; i++)
      if (pipes_[i].seq == seq) {
        close(pipes_[i].out);
        close(pipes_[i].err);
        pipes_[i] = pipes_[--npipes];
        break;
      }
    return NULL;
  }
  if (strcmp(f[0], "K") == 0) {
    long pid, group;
    if (nf < 4 || num(f[1], &pid, NULL) < 0 || num(f[3], &group, NULL) < 0) return "bad number";
    int sig = -1;
    for (size_t i = 0; i < sizeof SIGNALS / sizeof SIGNALS[0]; i++)
      if (strcmp(SIGNALS[i].name, f[2]) == 0) sig = SIGNALS[i].sig;
    if (sig < 0) return "bad signal";
    /* never a PID we have reaped: it may be someone else's now */
    if (kid_index((pid_t)pid) >= 0) kill(group ? -(pid_t)pid : (pid_t)pid, sig);
    return NULL;
  }
  return "unknown request";
}

static void on_chld(int sig) { (void)sig; }

int main(int argc, char **argv) {
  /* Its name, whatever it was executed as (libcrun's start-up re-exec runs it from a memfd): tools
   * tell tasks from their forkers by it (FORKER_COMMS in forker.ts). */
  prctl(PR_SET_NAME, "shoal-forker");
  if (argc < 2) { fprintf(stderr, "usage: shoal-forker PARENT_PID\n"); return 2; }
  pid_t parent = (pid_t)atol(argv[1]);
  /* Die with the supervisor, and not start at all if it is already gone. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) { perror("prctl"); return 1; }
  if (getppid() != parent) return 0;
  signal(SIGPIPE, SIG_IGN);
  /* SIGCHLD is blocked except inside ppoll: it interrupts the wait and cannot race the reap. */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);
  sigset_t chld, waitmask;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &waitmask);
  sigdelset(&waitmask, SIGCHLD);
  /* Children report here, not on stdout: only the forker writes stdout, so lines never interleave. */
  int cp[2];
  if (pipe2(cp, O_CLOEXEC) < 0) { perror("pipe"); return 1; }
  cr = cp[0];
  cw = cp[1];
  fcntl(cr, F_SETFL, fcntl(cr, F_GETFL) | O_NONBLOCK);

  char *in = NULL;
  size_t in_len = 0, in_cap = 0;
  for (;;) {
    reap();
    out_flush();
    struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = cr, .events = POLLIN}};
    int n = ppoll(p, 2, NULL, &waitmask);
    if (n <= 0) continue; /* EINTR: a child exited */
    if (p[1].revents & POLLIN) drain();
    if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    in = grow(in, &in_cap, in_len + 65536, 1);
    ssize_t r = read(0, in + in_len, 65536);
    if (r < 0) { if (errno == EINTR || errno == EAGAIN) continue; break; }
    if (r == 0) break;
    in_len += (size_t)r;
    size_t done = 0;
    for (;;) {
      char *nl = memchr(in + done, '\n', in_len - done);
      if (!nl) break;
      *nl = 0;
      char *line = in + done;
      long seq = -1;
      int is_start = line[0] == 'S' && line[1] == ' ';
      if (is_start) seq = atol(line + 2);
      const char *why = handle(line);
      if (why) {
        if (is_start && seq > 0) out_printf("E %ld ", seq);
        else out_put("E - ", 4);
        out_hex(why, strlen(why));
        out_put("\n", 1);
      }
      done = (size_t)(nl - in) + 1;
    }
    memmove(in, in + done, in_len - done);
    in_len -= done;
  }
  out_flush();
  return 0;
}
