/**
 * What each task runtime honours of a ContainerSpec. A field a runtime would
 * drop is refused instead, never accepted and ignored: by the API (400 naming
 * the field) when no runtime honours it or the service names its runtime,
 * and by the agent (the task is rejected with the reason) when the runtime is
 * the node's default and only known there.
 *
 * A field counts as set when it asks for something: true, a non-empty list
 * or map, a non-empty string. The docker CLI sends `ReadOnly: false`,
 * `DNSConfig: {}` and the like for every service, and those ask for nothing.
 */
import type { ContainerSpec } from './objects.js';
import type { RuntimeName } from './runtime-names.js';

const asks = (v: unknown): boolean => {
  if (v === undefined || v === null || v === false || v === '' || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.values(v as Record<string, unknown>).some(asks);
  return true;
};

/** Fields no Shoal runtime carries out yet. */
const NOWHERE = ['Groups', 'TTY', 'OpenStdin', 'ReadOnly', 'Hosts', 'DNSConfig', 'Sysctls', 'CapabilityAdd', 'CapabilityDrop', 'Ulimits'] as const;

/** Fields only some runtimes honour, and which. */
const ONLY: Record<string, readonly RuntimeName[]> = {
  // The oci runtime always runs tini as the container's PID 1; docker's --init is not passed on yet.
  Init: ['oci'],
  // A process task shares the node's UTS and mount namespaces.
  Hostname: ['oci', 'docker'],
  Mounts: ['oci', 'docker'],
};

/** `Mounts[i].…` fields that no runtime carries out. */
function mountFields(c: ContainerSpec): string[] {
  const out: string[] = [];
  (c.Mounts ?? []).forEach((m, i) => {
    if (m.Type !== 'bind' && m.Type !== 'volume' && m.Type !== 'tmpfs') out.push(`Mounts[${i}].Type`);
    if (asks(m.VolumeOptions?.DriverConfig)) out.push(`Mounts[${i}].VolumeOptions.DriverConfig`);
    if (asks(m.VolumeOptions?.NoCopy)) out.push(`Mounts[${i}].VolumeOptions.NoCopy`);
    if (asks(m.TmpfsOptions?.Mode)) out.push(`Mounts[${i}].TmpfsOptions.Mode`);
    if (asks(m.BindOptions?.Propagation)) out.push(`Mounts[${i}].BindOptions.Propagation`);
  });
  return out;
}

/** The ContainerSpec fields (paths under ContainerSpec) that no runtime would honour. */
export function unsupportedAnywhere(c: ContainerSpec | undefined): string[] {
  if (!c) return [];
  const rec = c as unknown as Record<string, unknown>;
  return [...NOWHERE.filter((k) => asks(rec[k])), ...mountFields(c)];
}

/** The fields `runtime` would not honour (those no runtime does included). */
export function unsupportedBy(c: ContainerSpec | undefined, runtime: RuntimeName): string[] {
  if (!c) return [];
  const rec = c as unknown as Record<string, unknown>;
  const only = Object.entries(ONLY)
    .filter(([k, rts]) => asks(rec[k]) && !rts.includes(runtime))
    .map(([k]) => k);
  return [...unsupportedAnywhere(c), ...only];
}
