/**
 * The names of the task runtimes and OCI runtime binaries: part of the
 * domain (a service's `--runtime`, a node's `--oci-runtime`), so the CLI can
 * offer them as choices without loading the runtimes themselves.
 */
export const RUNTIME_NAMES = ['process', 'oci', 'docker'] as const;
export type RuntimeName = (typeof RUNTIME_NAMES)[number];

export const OCI_RUNTIME_NAMES = ['runc', 'crun'] as const;
export type OciRuntimeName = (typeof OCI_RUNTIME_NAMES)[number];
