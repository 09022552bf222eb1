/**
 * Platform names as nodes and users write them. Node.js reports `x64` where
 * Docker says `amd64` and uname says `x86_64`; a service created with
 * `--platform linux/amd64` must still land on a Shoal node that reported
 * `x64`, so both sides go through the same normalisation before comparing.
 */
import type { Platform } from './objects.js';

const ARCH_ALIASES: Record<string, string> = {
  x64: 'amd64',
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  arm64v8: 'arm64',
  ia32: '386',
  i386: '386',
  i686: '386',
  x86: '386',
  armhf: 'arm',
  armel: 'arm',
  armv7l: 'arm',
  ppc64el: 'ppc64le',
};

export function normalizeArch(arch: string | undefined): string {
  const a = (arch ?? '').trim().toLowerCase();
  return ARCH_ALIASES[a] ?? a;
}

export function normalizeOs(os: string | undefined): string {
  const o = (os ?? '').trim().toLowerCase();
  // process.platform says win32; Docker says windows.
  return o === 'win32' ? 'windows' : o;
}

/** A wanted platform with empty fields matching anything (Docker's rule for Placement.Platforms). */
export interface PlatformWant {
  os: string;
  arch: string;
}

export function compilePlatforms(list: readonly Platform[] | undefined): PlatformWant[] | undefined {
  if (!list || list.length === 0) return undefined;
  return list.map((p) => ({ os: normalizeOs(p.OS), arch: normalizeArch(p.Architecture) }));
}

export function platformMatches(wants: readonly PlatformWant[], os: string, arch: string): boolean {
  for (const w of wants) {
    if ((w.os === '' || w.os === os) && (w.arch === '' || w.arch === arch)) return true;
  }
  return false;
}
