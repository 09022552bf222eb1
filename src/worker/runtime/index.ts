import type { Runtime, RuntimeName } from './interface.js';
import { RuntimeError } from './interface.js';
import type { RuntimeOptions } from './options.js';
import { ProcessRuntime } from './process/process-runtime.js';
import { OciRuntime } from './oci/oci-runtime.js';
import { DockerRuntime } from './docker/docker-runtime.js';

export type { Runtime, RuntimeName, TaskRunSpec, ContainerInfo, ExitStatus, LogLine, LogOptions, TaskStats, MountSpec } from './interface.js';
export { RuntimeError } from './interface.js';
export type { RuntimeOptions } from './options.js';
export { ImageStore } from './images/store.js';

import { RUNTIME_NAMES } from '../../model/runtime-names.js';
export { RUNTIME_NAMES };

/** The runtime called `name`, configured for this node. */
export function createRuntime(name: RuntimeName, opts: RuntimeOptions): Runtime {
  switch (name) {
    case 'process':
      return new ProcessRuntime(opts);
    case 'oci':
      return new OciRuntime(opts);
    case 'docker':
      return new DockerRuntime(opts);
    default:
      throw new RuntimeError('UNAVAILABLE', `unknown runtime ${JSON.stringify(name)}: use ${RUNTIME_NAMES.join(', ')}`);
  }
}
