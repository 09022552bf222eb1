/**
 * Builds a small two-layer OCI image layout for the image store tests, from
 * the busybox rootfs tarball: layer 1 = busybox (gzip), layer 2 (plain tar)
 * adds /srv/hello.txt and whiteouts that delete /bin/vi and /etc/group; the
 * config sets Entrypoint, Cmd, Env and WorkingDir.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface BuiltLayout {
  dir: string;
  /** The same layout as a tar archive. */
  tarball: string;
  /** The image ID the store must report: the config's digest. */
  configDigest: string;
}

function goArch(): string {
  return ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
}

export function buildOciLayout(work: string, busyboxTar: string): BuiltLayout {
  const dir = path.join(work, 'layout');
  const blobs = path.join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer) => {
    const hex = createHash('sha256').update(data).digest('hex');
    writeFileSync(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const diffId = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

  const l1raw = readFileSync(busyboxTar);
  const l1 = put(gzipSync(l1raw));

  const l2dir = path.join(work, 'layer2');
  mkdirSync(path.join(l2dir, 'srv'), { recursive: true });
  mkdirSync(path.join(l2dir, 'bin'), { recursive: true });
  mkdirSync(path.join(l2dir, 'etc'), { recursive: true });
  writeFileSync(path.join(l2dir, 'srv', 'hello.txt'), 'hello from layer 2\n');
  writeFileSync(path.join(l2dir, 'bin', '.wh.vi'), '');
  writeFileSync(path.join(l2dir, 'etc', '.wh.group'), '');
  const l2tar = path.join(work, 'layer2.tar');
  execFileSync('tar', ['-C', l2dir, '--owner=0', '--group=0', '--numeric-owner', '-cf', l2tar, '.']);
  const l2raw = readFileSync(l2tar);
  const l2 = put(l2raw);

  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: goArch(),
        os: 'linux',
        config: { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo "$GREETING from $(pwd)"; cat hello.txt'], Env: ['PATH=/bin', 'GREETING=hi'], WorkingDir: '/srv', Healthcheck: { Test: ['CMD', 'test', '-e', '/srv/hello.txt'], Interval: 1e9 } },
        rootfs: { type: 'layers', diff_ids: [diffId(l1raw), diffId(l2raw)] },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l1 },
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...l2 },
        ],
      }),
    ),
  );
  writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { os: 'linux', architecture: goArch() } }] }),
  );
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const tarball = path.join(work, 'layout.tar');
  execFileSync('tar', ['-C', dir, '-cf', tarball, '.']);
  return { dir, tarball, configDigest: config.digest };
}
