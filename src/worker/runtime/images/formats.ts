import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '../interface.js';
import type { ImageConfig } from './types.js';
import { sha256File } from './unpack.js';

/**
 * Reading the two image formats that carry layers and a config:
 *  - an OCI image layout (oci-layout + index.json + blobs/<alg>/<hex>), as
 *    written by `skopeo copy … oci:DIR`, `buildah push … oci:DIR` or
 *    `docker save` from Docker 25 on;
 *  - a Docker archive (manifest.json listing Config and Layers), as written
 *    by `docker save` before Docker 25.
 * Each yields the image ID (sha256 of its config), the config, and the
 * layer files to apply in order. Blobs are checked against their digests.
 */
export interface LayeredImage {
  id: string;
  config: ImageConfig;
  layers: string[];
}

export const MT_INDEX = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

export interface Descriptor {
  mediaType?: string;
  digest: string;
  platform?: { os?: string; architecture?: string };
}

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[process.arch] ?? process.arch;
}

function readJsonFile<T>(file: string, what: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new RuntimeError('FAILED', `${what} (${file}) is unreadable: ${(err as Error).message}`);
  }
}

async function blob(layout: string, digest: string, verify: boolean): Promise<string> {
  const m = /^(sha256|sha512):([a-f0-9]+)$/.exec(digest);
  if (!m) throw new RuntimeError('FAILED', `unsupported digest ${digest}`);
  const file = path.join(layout, 'blobs', m[1]!, m[2]!);
  if (!existsSync(file)) throw new RuntimeError('FAILED', `OCI layout ${layout}: blob ${digest} is missing`);
  insideReally(layout, file, `OCI layout ${layout}: blob ${digest}`);
  if (verify && m[1] === 'sha256' && (await sha256File(file)) !== m[2]) throw new RuntimeError('FAILED', `OCI layout ${layout}: blob ${digest} does not match its digest`);
  return file;
}

/** This node's platform's manifest from an index (linux/<arch>), else a platform-less one, else the first. */
export function pickPlatform(manifests: Descriptor[], where: string): Descriptor {
  if (!manifests.length) throw new RuntimeError('FAILED', `${where}: the image index lists no manifests`);
  const arch = goArch();
  return (
    manifests.find((d) => d.platform?.os === 'linux' && d.platform.architecture === arch) ??
    manifests.find((d) => !d.platform || d.platform.architecture === 'unknown') ??
    manifests[0]!
  );
}

/**
 * A file an image archive names must be in the archive: a symlink in it
 * (`layer.tar -> /etc/shadow`) would make the import read a host file into
 * the image. Its real path, links resolved, must be under the archive's.
 */
function insideReally(dir: string, file: string, what: string): void {
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw new RuntimeError('FAILED', `${what} is missing`);
  }
  if (!real.startsWith(realpathSync(dir) + path.sep)) throw new RuntimeError('FAILED', `${what} is a link to a file outside the archive`);
}

export function isOciLayout(dir: string): boolean {
  return existsSync(path.join(dir, 'oci-layout')) && existsSync(path.join(dir, 'index.json'));
}

export async function readOciLayout(layout: string): Promise<LayeredImage> {
  const marker = readJsonFile<{ imageLayoutVersion?: string }>(path.join(layout, 'oci-layout'), 'oci-layout');
  if (!marker.imageLayoutVersion) throw new RuntimeError('FAILED', `${layout}/oci-layout has no imageLayoutVersion`);
  let desc = pickPlatform(readJsonFile<{ manifests?: Descriptor[] }>(path.join(layout, 'index.json'), 'index.json').manifests ?? [], `OCI layout ${layout}`);
  // Nested indexes (multi-platform images): descend to one platform's manifest.
  for (let depth = 0; MT_INDEX.includes(desc.mediaType ?? ''); depth++) {
    if (depth > 4) throw new RuntimeError('FAILED', `OCI layout ${layout}: indexes nested too deep`);
    const idx = readJsonFile<{ manifests?: Descriptor[] }>(await blob(layout, desc.digest, true), 'image index');
    desc = pickPlatform(idx.manifests ?? [], `OCI layout ${layout}`);
  }
  const manifest = readJsonFile<{ config?: Descriptor; layers?: Descriptor[] }>(await blob(layout, desc.digest, true), 'image manifest');
  if (!manifest.config) throw new RuntimeError('FAILED', `OCI layout ${layout}: manifest ${desc.digest} has no config`);
  const cfg = readJsonFile<{ config?: ImageConfig }>(await blob(layout, manifest.config.digest, true), 'image config');
  const layers: string[] = [];
  for (const l of manifest.layers ?? []) layers.push(await blob(layout, l.digest, true));
  return { id: manifest.config.digest, config: cfg.config ?? {}, layers };
}

export function isDockerArchive(dir: string): boolean {
  return existsSync(path.join(dir, 'manifest.json')) && !isOciLayout(dir);
}

export async function readDockerArchive(dir: string): Promise<LayeredImage> {
  const list = readJsonFile<{ Config: string; Layers: string[] }[]>(path.join(dir, 'manifest.json'), 'manifest.json');
  const m = list[0];
  if (!m?.Config) throw new RuntimeError('FAILED', `docker archive ${dir}: manifest.json names no image`);
  const inside = (p: string) => {
    const abs = path.resolve(dir, p);
    if (!abs.startsWith(path.resolve(dir) + path.sep)) throw new RuntimeError('FAILED', `docker archive ${dir}: ${p} points outside it`);
    insideReally(dir, abs, `docker archive ${dir}: ${p}`);
    return abs;
  };
  const configFile = inside(m.Config);
  const cfg = readJsonFile<{ config?: ImageConfig }>(configFile, 'image config');
  return { id: `sha256:${await sha256File(configFile)}`, config: cfg.config ?? {}, layers: (m.Layers ?? []).map(inside) };
}
