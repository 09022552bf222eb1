/*
 * The forker's libcrun path (forker.c built with -DSHOAL_LIBCRUN): a
 * container started by libcrun in a fork of the forker, where the plain
 * forker execs the crun binary.
 *
 * Why: on a small VM, exec'ing crun (loading and relocating 12 shared
 * libraries, then page-faulting them in) is about half of what starting a
 * container costs; crun's own command-line `run` is a thin wrapper over
 * libcrun_container_run, which Debian's crun package ships as libcrun.a.
 *
 * libcrun.a comes without headers, so its API is declared here, as it is in
 * crun 1.8.1's src/libcrun/{container,error}.h. Those declarations, and the
 * code of crun's `run` command reproduced below, are the same in every tag
 * from 1.8 to 1.12 (libcrun_context_s changed in 1.13); native-build.ts
 * links this only when the installed package is one of those versions
 * (forker-libcrun.ts), and only 1.8.1 (Debian 12's) has been run. Anything
 * else gets the exec path. The build also records the crun binary's path, size and mtime:
 * a request for another crun (options.oci.crunPath), or the package since
 * upgraded, gets the exec path too, so what runs is always the crun that
 * was asked for.
 *
 * Only the exact argv oci-runtime.ts writes is taken in-process:
 *   CRUN --root ROOT run --bundle BUNDLE --pid-file PIDFILE ID
 * and it is run as crun's `run` command runs it (src/run.c,
 * crun_command_run, and src/crun.c, init_libcrun_context, in 1.8.1).
 */
#ifndef SHOAL_FORKER_LIBCRUN_H
#define SHOAL_FORKER_LIBCRUN_H

#include <stdbool.h>

#if !defined(SHOAL_LIBCRUN_BINARY) || !defined(SHOAL_LIBCRUN_SIZE) || !defined(SHOAL_LIBCRUN_MTIME)
#error "SHOAL_LIBCRUN needs SHOAL_LIBCRUN_BINARY, SHOAL_LIBCRUN_SIZE and SHOAL_LIBCRUN_MTIME"
#endif

/* ---- libcrun 1.8 - 1.12, as declared in its headers ---- */

typedef void (*crun_output_handler)(int errno_, const char *msg, bool warning, void *arg);

struct libcrun_error_s {
  int status;
  char *msg;
};
typedef struct libcrun_error_s *libcrun_error_t;

struct libcrun_context_s {
  const char *state_root;
  const char *id;
  const char *bundle;
  const char *console_socket;
  const char *pid_file;
  const char *notify_socket;
  const char *handler;
  int preserve_fds;
  int listen_fds;
  crun_output_handler output_handler;
  void *output_handler_arg;
  int fifo_exec_wait_fd;
  bool systemd_cgroup;
  bool detach;
  bool no_subreaper;
  bool no_new_keyring;
  bool force_no_cgroup;
  bool no_pivot;
  char **argv;
  int argc;
  void *handler_manager;
};

void *libcrun_container_load_from_file(const char *path, libcrun_error_t *err);
int libcrun_container_run(struct libcrun_context_s *context, void *container, unsigned int options, libcrun_error_t *err);
void *libcrun_handler_manager_create(libcrun_error_t *err);
int libcrun_init_logging(crun_output_handler *output_handler, void **output_handler_arg, const char *id, const char *log,
                         libcrun_error_t *err);
void libcrun_fail_with_error(int errno_, const char *msg, ...) __attribute__((noreturn)) __attribute__((format(printf, 2, 3)));

extern char **environ;

/* ---- deciding, in the forker (parent) ---- */

/*
 * 1 when argv is the one `run` shape we take, for the very crun this was
 * built against, named crun (crun picks a handler by the name it was run
 * as), with no socket-activated descriptors to pass on (LISTEN_FDS, which
 * crun's CLI honours and the node never sets).
 */
static int crun_run_request(char **argv, char **envp) {
  int n = 0;
  while (argv[n]) n++;
  if (n != 9 || strcmp(argv[1], "--root") != 0 || strcmp(argv[3], "run") != 0 || strcmp(argv[4], "--bundle") != 0 ||
      strcmp(argv[6], "--pid-file") != 0 || argv[8][0] == '-' || argv[5][0] != '/')
    return 0;
  const char *base = strrchr(argv[0], '/');
  if (strcmp(base ? base + 1 : argv[0], "crun") != 0) return 0;
  for (char **e = envp; *e; e++)
    if (strncmp(*e, "LISTEN_FDS=", 11) == 0) return 0;
  struct stat want, got;
  /* The same file (not merely the same name), unchanged since the build. */
  if (stat(argv[0], &got) < 0 || stat(SHOAL_LIBCRUN_BINARY, &want) < 0) return 0;
  if (got.st_dev != want.st_dev || got.st_ino != want.st_ino) return 0;
  return (long long)want.st_size == (long long)SHOAL_LIBCRUN_SIZE && (long long)want.st_mtime == (long long)SHOAL_LIBCRUN_MTIME;
}

/* ---- running, in the child (fork()ed; its stdio, cgroups, credentials and signals already set) ---- */

__attribute__((noreturn)) static void crun_fail(libcrun_error_t err) {
  libcrun_fail_with_error(err ? err->status : 0, "%s", err && err->msg ? err->msg : "failed");
}

__attribute__((noreturn)) static void crun_run_in_process(char **argv, char **envp) {
  /* What the exec would have closed: every descriptor of the forker's is close-on-exec. */
  if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0) {
    struct rlimit rl;
    long max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
    for (long fd = 3; fd < max; fd++) close((int)fd);
  }
  environ = envp; /* crun reads NOTIFY_SOCKET from its environment; the container's own env is config.json's */
  const char *root = argv[2], *bundle = argv[5], *pid_file = argv[7], *id = argv[8];
  if (chdir(bundle) < 0) libcrun_fail_with_error(errno, "chdir `%s` failed", bundle);
  libcrun_error_t err = NULL;
  void *container = libcrun_container_load_from_file("config.json", &err);
  if (!container) crun_fail(err);
  struct libcrun_context_s c;
  memset(&c, 0, sizeof c);
  c.id = id;
  c.state_root = root;
  c.bundle = bundle;
  c.pid_file = pid_file;
  c.notify_socket = getenv("NOTIFY_SOCKET");
  c.fifo_exec_wait_fd = -1;
  /* Left unset: libcrun rewrites argv in place for custom handlers, assuming the kernel's contiguous
   * strings, and these are the forker's own allocations. No handler can be chosen here (see above). */
  c.argv = NULL;
  c.argc = 0;
  if (libcrun_init_logging(&c.output_handler, &c.output_handler_arg, id, NULL, &err) < 0) crun_fail(err);
  /* crun also loads handler plugins from its libdir; oci-runtime.ts's configs never ask for a handler. */
  c.handler_manager = libcrun_handler_manager_create(&err);
  if (!c.handler_manager) crun_fail(err);
  int ret = libcrun_container_run(&c, container, 0, &err);
  if (ret && err) crun_fail(err);
  /* As crun's main returns it: the container's exit status (128 + signal when killed). */
  exit(ret);
}

#endif
