/**
 * The node-local image store and `shoal image import|ls`: a rootfs tarball
 * (ID = its sha256, default Cmd sh), an OCI image layout as a directory and
 * as a tar (ID = config digest, layers applied with whiteouts, config kept),
 * re-imports, bad input, and the CLI run in-process through main().
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { main } from '../../src/cli/program.js';
import { ImageStore } from '../../src/worker/runtime/images/store.js';
import { normalizeImageName } from '../../src/worker/runtime/images/names.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { buildOciLayout } from './oci-layout.js';

const work = mkdtempSync(path.join(tmpdir(), 'shoal-images-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));

t.test('image names', async (t) => {
  t.equal(normalizeImageName('busybox'), 'busybox:latest');
  t.equal(normalizeImageName('docker.io/library/busybox:1.36'), 'busybox:1.36');
  t.equal(normalizeImageName('busybox:latest@sha256:' + 'a'.repeat(64)), 'busybox:latest', 'a pinned registry digest is dropped');
  t.equal(normalizeImageName('registry.local:5000/team/app'), 'registry.local:5000/team/app:latest');
  t.throws(() => normalizeImageName('Bad Name'), { code: 'INVALID_SPEC' });
});

if (!busyboxBinary()) {
  t.test('image store', { skip: 'busybox-static is not installed' }, () => {});
} else {
  const bb = busyboxRootfs();

  t.test('a rootfs tarball', async (t) => {
    const store = new ImageStore(path.join(work, 's1', 'images'));
    const s = await store.import('busybox', bb.tarball);
    const digest = createHash('sha256').update(readFileSync(bb.tarball)).digest('hex');
    t.equal(s.id, `sha256:${digest}`, 'ID is the sha256 of the tarball');
    t.equal(s.name, 'busybox:latest');
    t.ok(s.size > 500_000, `size counts the unpacked files (${s.size})`);
    const r = store.resolve('docker.io/library/busybox:latest')!;
    t.same(r.config.Cmd, ['sh'], 'a plain tarball runs sh');
    t.ok(existsSync(path.join(r.rootfs, 'bin', 'busybox')));
    t.ok(existsSync(path.join(r.rootfs, 'bin', 'sh')));
    const again = await store.import('bb:2', bb.tarball);
    t.equal(again.id, s.id, 'same content, same ID');
    t.equal(readdirSync(path.join(work, 's1', 'images', 'images')).length, 1, 'stored once');
    t.same(store.list().map((i) => i.name), ['bb:2', 'busybox:latest']);
    t.equal(store.resolve('nothing:here'), null);
    t.equal(store.resolve(s.id)?.id, s.id, 'resolvable by ID');
    t.same(readdirSync(path.join(work, 's1', 'images', 'tmp')), [], 'no staging left behind');
  });

  t.test('an OCI image layout, as a directory and as a tar', async (t) => {
    const layout = buildOciLayout(path.join(work, 'oci'), bb.tarball);
    const store = new ImageStore(path.join(work, 's2', 'images'));
    const s = await store.import('app:1', layout.dir);
    t.equal(s.id, layout.configDigest, 'ID is the config digest');
    const r = store.resolve('app:1')!;
    t.same(r.config, { Entrypoint: ['/bin/sh', '-c'], Cmd: ['echo "$GREETING from $(pwd)"; cat hello.txt'], Env: ['PATH=/bin', 'GREETING=hi'], WorkingDir: '/srv', Healthcheck: { Test: ['CMD', 'test', '-e', '/srv/hello.txt'], Interval: 1e9 } }, 'the config a task runs with, its HEALTHCHECK included');
    t.equal(readFileSync(path.join(r.rootfs, 'srv', 'hello.txt'), 'utf8'), 'hello from layer 2\n', 'layer 2 applied over layer 1');
    t.notOk(existsSync(path.join(r.rootfs, 'bin', 'vi')), 'whiteout removed /bin/vi');
    t.notOk(existsSync(path.join(r.rootfs, 'etc', 'group')), 'whiteout removed /etc/group');
    t.ok(existsSync(path.join(r.rootfs, 'etc', 'passwd')), 'the rest of layer 1 is there');
    t.notOk(existsSync(path.join(r.rootfs, 'bin', '.wh.vi')), 'whiteout markers are not extracted');
    const fromTar = await new ImageStore(path.join(work, 's3', 'images')).import('app:1', layout.tarball);
    t.equal(fromTar.id, layout.configDigest, 'the tar of the layout gives the same image');
  });

  t.test('a layout with a corrupted blob is refused', async (t) => {
    const layout = buildOciLayout(path.join(work, 'bad'), bb.tarball);
    const blobs = path.join(layout.dir, 'blobs', 'sha256');
    const victim = readdirSync(blobs).find((f) => readFileSync(path.join(blobs, f)).length > 100_000)!;
    writeFileSync(path.join(blobs, victim), 'garbage');
    await t.rejects(new ImageStore(path.join(work, 's4', 'images')).import('bad:1', layout.dir), { message: /does not match its digest/ });
    t.same(new ImageStore(path.join(work, 's4', 'images')).list(), [], 'nothing tagged');
  });

  t.test('shoal image import and ls (in-process CLI)', async (t) => {
    const dataDir = path.join(work, 'cli-node');
    const run = async (...argv: string[]) => {
      let out = '';
      let err = '';
      const w = process.stdout.write.bind(process.stdout);
      const e = process.stderr.write.bind(process.stderr);
      process.stdout.write = ((c: string | Uint8Array) => ((out += c.toString()), true)) as typeof process.stdout.write;
      process.stderr.write = ((c: string | Uint8Array) => ((err += c.toString()), true)) as typeof process.stderr.write;
      try {
        return { code: await main(argv), out, err };
      } finally {
        process.stdout.write = w;
        process.stderr.write = e;
      }
    };
    const imp = await run('image', 'import', 'busybox:latest', bb.tarball, '--data-dir', dataDir);
    t.equal(imp.code, 0, imp.err);
    t.match(imp.out, /^sha256:[a-f0-9]{64}\n$/);
    const ls = await run('image', 'ls', '--data-dir', dataDir);
    t.equal(ls.code, 0, ls.err);
    const lines = ls.out.trim().split('\n');
    t.match(lines[0], /^NAME\s+ID\s+SIZE\s+CREATED$/);
    t.match(lines[1], new RegExp(`^busybox:latest\\s+${imp.out.slice(7, 19)}\\s+\\d[\\d.]*[kM]?B\\s+(Less than a second ago|\\d+ seconds? ago)$`));
    const q = await run('image', 'ls', '-q', '--no-trunc', '--data-dir', dataDir);
    t.equal(q.out, imp.out, 'quiet, untruncated: the full ID');
    const missing = await run('image', 'import', 'x:1', path.join(work, 'nope.tar'), '--data-dir', dataDir);
    t.equal(missing.code, 1);
    t.match(missing.err, /^shoal: cannot import .*nope\.tar: no such file or directory\n$/);
    const badName = await run('image', 'import', 'UPPER', bb.tarball, '--data-dir', dataDir);
    t.equal(badName.code, 1);
    t.match(badName.err, /invalid image name/);
  });
}
