/**
 * The name an image is known by in a node's store, and so in its node
 * description: "busybox" and "docker.io/library/busybox:latest" are both
 * "busybox:latest"; a pinned digest is not part of it. The worker's store
 * (worker/runtime/images/names.ts) validates and stores names this way, and
 * the scheduler matches a task's image against what nodes report with it.
 */
export function imageTag(ref: string): string {
  let r = ref.trim();
  const at = r.indexOf('@');
  if (at >= 0) r = r.slice(0, at);
  for (const p of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/']) {
    if (r.startsWith(p)) {
      r = r.slice(p.length);
      break;
    }
  }
  if (r === '') return r;
  const slash = r.lastIndexOf('/');
  const colon = r.lastIndexOf(':');
  if (colon <= slash) r += ':latest';
  return r;
}
