import type { HealthConfig } from '../../../model/index.js';

/** The part of an OCI/Docker image config a task runs with. */
export interface ImageConfig {
  /** The image's HEALTHCHECK (Docker image config; durations in ns). */
  Healthcheck?: HealthConfig;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
}

export type ImageSource = 'tarball' | 'oci-layout' | 'docker-archive' | 'registry' | 'peer';

/** images/<id>/image.json */
export interface ImageRecord {
  /** "sha256:<hex>": the tarball's digest, or the image config's digest (OCI layout, docker archive). */
  id: string;
  config: ImageConfig;
  /** Bytes of the unpacked rootfs. */
  size: number;
  /** When it was imported here (RFC 3339). */
  created: string;
  source: ImageSource;
  /**
   * Its layers as blobs in this node's cache (images/blobs), in order: what
   * another node fetches to have the same image (worker/agent/image-peers.ts).
   * Absent on images stored before blobs were kept.
   */
  layers?: string[];
}

/** What a node needs to build an image another node has: its ID, config and layer blobs. */
export interface ShareableImage {
  id: string;
  config: ImageConfig;
  layers: string[];
}

export interface ImageSummary {
  name: string;
  id: string;
  size: number;
  created: string;
}

export interface ResolvedImage extends ImageRecord {
  name: string;
  /** Unpacked root filesystem (read-only by convention: tasks overlay it). */
  rootfs: string;
}
