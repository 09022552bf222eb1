/**
 * The names of the task runtimes and OCI runtime binaries: part of the
 * domain (a service's `--runtime`, a node's `--oci-runtime`), so the CLI can
 * offer them as choices without loading the runtimes themselves.
 */
export const RUNTIME_NAMES = ['process', 'oci', 'docker'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

export const OCI_RUNTIME_NAMES = ['runc', 'crun'] as const;
export type OciRuntimeName = (typeof OCI_RUNTIME_NAMES)[number];

/**
 * The runtime a placed task runs on: its template's Runtime when it names one
 * of ours, else its node's default (the first of Node.Description.Runtimes,
 * `process` when the node lists none) — what the node's agent picks.
 */
export function taskRuntimeOn(specRuntime: string | undefined, nodeRuntimes: readonly string[] | undefined): RuntimeName {
  const r = specRuntime;
  if (r === 'process' || r === 'oci' || r === 'docker') return r;
  const d = nodeRuntimes?.[0];
  return d === 'oci' || d === 'docker' ? d : 'process';
}
