/**
 * What a node keeps so that another can build the same image: every import
 * (rootfs tarball, OCI layout, docker archive) keeps its layers as blobs by
 * digest; `shareable` says what to fetch, `importShared` builds the image
 * from fetched blobs under the same ID. A blob the cache lacks is refused.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ImageStore } from '../../src/worker/runtime/images/store.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { buildLayout, tarOf } from '../helpers/registry.js';

t.test('images a node imported can be rebuilt on another from their blobs', { skip: busyboxBinary() ? false : 'busybox-static is not installed' }, async (t) => {
  const dir = t.testdir();
  const a = new ImageStore(path.join(dir, 'a'));
  const b = new ImageStore(path.join(dir, 'b'));
  const copyBlobs = (layers: string[]) => {
    for (const d of layers) {
      mkdirSync(path.dirname(b.blobFile(d)), { recursive: true });
      copyFileSync(a.blobFile(d), b.blobFile(d));
    }
  };

  // A rootfs tarball: one layer, the tarball itself, whose digest is the image ID.
  const tarball = busyboxRootfs().tarball;
  const imported = await a.import('busybox:latest', tarball);
  const share = a.shareable('busybox:latest')!;
  t.same(share.layers, [imported.id], 'the tarball is the one layer');
  t.equal(readFileSync(a.blobFile(imported.id)).length, readFileSync(tarball).length, 'kept in the blob cache');
  t.equal(b.shareable('busybox:latest'), null, 'the other node has nothing yet');
  await t.rejects(b.importShared('busybox:latest', share), /is not in the cache/, 'without the blobs: refused');
  copyBlobs(share.layers);
  const built = await b.importShared('busybox:latest', share);
  t.equal(built.id, imported.id, 'the same image ID');
  const img = b.resolve('busybox:latest')!;
  t.ok(existsSync(path.join(img.rootfs, 'bin', 'busybox')), 'the same root filesystem');
  t.equal(img.source, 'peer');
  t.same(b.shareable('busybox:latest'), share, 'and the second node can share it on');

  // An OCI layout of two layers: both kept, in order; the config comes along.
  const work = path.join(dir, 'w');
  mkdirSync(work);
  const layout = path.join(work, 'layout');
  const built2 = buildLayout(layout, 'x', [{ layers: [tarball, tarOf(work, 'top', { 'etc/top': 'top\n' })], config: { Cmd: ['cat', '/etc/top'] } }]);
  await a.import('layered:1', layout);
  const share2 = a.shareable('layered:1')!;
  t.same(share2.layers, built2.layers[0], 'the layout’s layer digests, in order');
  t.same(share2.config, { Cmd: ['cat', '/etc/top'] });
  copyBlobs(share2.layers);
  await b.importShared('layered:1', share2);
  t.equal(readFileSync(path.join(b.resolve('layered:1')!.rootfs, 'etc', 'top'), 'utf8'), 'top\n', 'both layers applied');

  // A user's file is copied, not linked: changing it later cannot change the cache.
  const own = path.join(work, 'own.tar');
  copyFileSync(tarOf(work, 'own', { 'f': '1' }), own);
  const ownImg = await a.import('own:1', own);
  writeFileSync(own, 'changed');
  t.not(readFileSync(a.blobFile(ownImg.id), 'utf8'), 'changed', 'the cached blob is a copy');
});
