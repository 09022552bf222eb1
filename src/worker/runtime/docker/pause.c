/*
 * shoal-pause: PID 1 of a docker task's sandbox container, built static by
 * `npm run build` (src/worker/native-build.ts) so that it runs inside any image.
 *
 * Why it exists: dockerd cannot join a network namespace it did not make,
 * and Shoal's data plane programs the task's namespace (veth into the
 * overlay bridge, address, default route) before the task may run. So the
 * docker runtime first starts a sandbox container (NetworkMode none) whose
 * only process is this one, binds that container's namespace where the data
 * plane looks for it (/run/netns/<task netns>), waits until the plan is
 * applied to it, and only then starts the task's own container with
 * NetworkMode container:<sandbox>. This is the pod sandbox ("pause")
 * pattern of Kubernetes' dockershim. It does nothing but wait: SIGTERM or
 * SIGINT ends it, and as PID 1 it reaps whatever is reparented to it.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, 0, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = stop;
  sigaction(SIGTERM, &sa, 0);
  sigaction(SIGINT, &sa, 0);
  sa.sa_handler = reap;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, 0);
  for (;;) pause();
}
