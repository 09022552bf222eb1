import { RuntimeError } from '../interface.js';

/**
 * Image references in the node-local store: "busybox" and
 * "docker.io/library/busybox:latest" both mean "busybox:latest". A pinned
 * registry digest ("busybox:latest@sha256:…", as Swarm writes into task specs)
 * is dropped: this store has no registry digests, only its own image IDs.
 */
export function normalizeImageName(ref: string): string {
  let r = ref.trim();
  const at = r.indexOf('@');
  if (at >= 0) r = r.slice(0, at);
  for (const p of ['docker.io/library/', 'index.docker.io/library/', 'docker.io/', 'index.docker.io/']) {
    if (r.startsWith(p)) {
      r = r.slice(p.length);
      break;
    }
  }
  const slash = r.lastIndexOf('/');
  const colon = r.lastIndexOf(':');
  if (colon <= slash) r += ':latest';
  if (!/^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(r)) {
    throw new RuntimeError('INVALID_SPEC', `invalid image name ${JSON.stringify(ref)}: use e.g. busybox:latest or registry.local:5000/team/app:1.2`);
  }
  return r;
}
