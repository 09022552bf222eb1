/**
 * GET /distribution/{name}/json: `docker service create` asks it to pin the
 * image digest (unless DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 or
 * --no-resolve-image). Shoal does not talk to registries, so it answers at
 * once with an error; the CLI turns any error here into a warning and
 * creates the service with the image reference as given.
 */
import { ApiError } from '../errors.js';
import type { Router } from '../router.js';

export function distributionRoutes(r: Router): void {
  r.add('GET', '/distribution/*name/json', (req) => {
    throw new ApiError(
      501,
      `Shoal does not query registries, so the digest of ${req.params.name} is not pinned (use --no-resolve-image or DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 to skip this lookup)`,
    );
  });
}
