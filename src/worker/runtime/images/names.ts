import { RuntimeError } from '../interface.js';
import { imageTag } from '../../../model/image-ref.js';

/**
 * Image references in the node-local store: "busybox" and
 * "docker.io/library/busybox:latest" both mean "busybox:latest". A pinned
 * registry digest ("busybox:latest@sha256:…", as Swarm writes into task specs)
 * is dropped: this store has no registry digests, only its own image IDs.
 */
export function normalizeImageName(ref: string): string {
  const r = imageTag(ref);
  if (!/^[a-z0-9]+([._-][a-z0-9]+)*(:\d+)?(\/[a-z0-9]+([._-]+[a-z0-9]+)*)*:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(r)) {
    throw new RuntimeError('INVALID_SPEC', `invalid image name ${JSON.stringify(ref)}: use e.g. busybox:latest or registry.local:5000/team/app:1.2`);
  }
  return r;
}
