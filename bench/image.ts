/**
 * npm run bench:image — one image pulled by a whole cluster, cold.
 *
 * A real registry (Debian's docker-registry on loopback, filled by skopeo)
 * holds a 5-layer image of about 100 MB (busybox plus incompressible random
 * files, so gzip cannot shrink it). A cluster of 1 manager and 4 workers
 * (real processes, oci runtime, empty image stores) runs a global service of
 * it: one task per node. Measured: the bytes the registry served (its own
 * log, manifests included), the image's bytes (config and layers as
 * stored), and the time from `service create` until all five tasks run.
 * A per-node pull would read nodes × image_bytes; Shoal's goal is at most
 * 1.1 × image_bytes, each layer read once for the cluster (image-peers.ts).
 * Needs root with runc, busybox-static, docker-registry and skopeo; without
 * them the last line says why it did not run.
 * Last line: {"nodes", "registry_bytes_read", "image_bytes", "ratio", "all_running_ms"}.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ProcCluster } from '../chaos-tests/harness/proc-cluster.js';
import { waitFor } from '../chaos-tests/harness/wait.js';
import { createRuntime } from '../src/worker/runtime/index.js';
import { busyboxBinary, busyboxRootfs } from '../test/helpers/busybox-rootfs.js';
import { buildLayout, push, registryUnavailable, startRegistry } from '../test/helpers/registry.js';

const WORKERS = 4;
const LAYER_MB = 25;

function progress(msg: string): void {
  process.stderr.write(`bench:image: ${msg}\n`);
}

async function main(): Promise<void> {
  const oci = await createRuntime('oci', { dataDir: '/nonexistent' }).available();
  const why = !oci.ok ? `oci runtime unavailable: ${oci.reason}` : !busyboxBinary() ? 'busybox-static is not installed' : registryUnavailable();
  if (why) {
    process.stdout.write(`${JSON.stringify({ skipped: why })}\n`);
    return;
  }
  const teardowns: (() => void)[] = [];
  const work = mkdtempSync(path.join(tmpdir(), 'shoal-bench-image-'));
  const c = new ProcCluster(232);
  try {
    const reg = await startRegistry({ teardown: (fn) => teardowns.push(fn) });
    // Five layers: busybox, then four of 25 MB of random bytes each.
    const layers = [1, 2, 3, 4].map((i) => {
      const dir = path.join(work, `layer${i}`);
      mkdirSync(dir);
      writeFileSync(path.join(dir, `random-${i}.bin`), randomBytes(LAYER_MB * 1024 * 1024));
      const tar = path.join(work, `layer${i}.tar`);
      execFileSync('tar', ['-C', dir, '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', tar, '.']);
      return tar;
    });
    const layout = path.join(work, 'layout');
    buildLayout(layout, 'big', [{ layers: [busyboxRootfs().tarball, ...layers], config: { Cmd: ['sleep', '3600'] } }]);
    const blobs = path.join(layout, 'blobs', 'sha256');
    await push(layout, 'big', `${reg.addr}/big:1`);
    // Config and layers (the blobs a node fetches); the manifest is counted in what is read, not here.
    const imageBytes = readdirSync(blobs)
      .map((f) => statSync(path.join(blobs, f)).size)
      .reduce((a, b) => a + b, 0);
    progress(`image pushed: ${(imageBytes / 1e6).toFixed(1)} MB in layers`);
    const before = reg.reads().filter((r) => r.method === 'GET' && r.status === 200).reduce((a, r) => a + r.bytes, 0);

    const m1 = await c.init();
    for (let i = 0; i < WORKERS; i++) await c.join('worker', m1);
    await waitFor(async () => (await c.http(m1, 'GET', '/nodes')).json<{ Status: { State: string } }[]>().filter((n) => n.Status.State === 'ready').length === WORKERS + 1 || undefined, {
      timeoutMs: 60_000,
      what: `${WORKERS + 1} ready nodes`,
    });
    const t0 = performance.now();
    const r = await c.http(m1, 'POST', '/services/create', { Name: 'big', Mode: { Global: {} }, TaskTemplate: { Runtime: 'oci', ContainerSpec: { Image: `${reg.addr}/big:1` } } });
    if (r.status !== 201) throw new Error(`service create: ${r.status} ${r.body}`);
    await waitFor(
      async () => {
        const ts = (await c.http(m1, 'GET', '/tasks')).json<{ DesiredState: string; Status: { State: string; Err?: string } }[]>();
        const live = ts.filter((x) => x.DesiredState === 'running');
        return live.length === WORKERS + 1 && live.every((x) => x.Status.State === 'running') ? true : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 100, what: `${WORKERS + 1} tasks running` },
    );
    const allRunningMs = Math.round(performance.now() - t0);
    const read = reg.reads().filter((x) => x.method === 'GET' && x.status === 200).reduce((a, x) => a + x.bytes, 0) - before;
    progress(`per-node pulls would read about ${(((WORKERS + 1) * imageBytes) / 1e6).toFixed(0)} MB`);
    process.stdout.write(`${JSON.stringify({ nodes: WORKERS + 1, registry_bytes_read: read, image_bytes: imageBytes, ratio: Number((read / imageBytes).toFixed(3)), all_running_ms: allRunningMs })}\n`);
  } finally {
    await c.close();
    for (const fn of teardowns) fn();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`bench:image: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
