/**
 * Applying image layers never touches anything outside the rootfs, whatever
 * the layers hold: symlinks left by a lower layer (absolute, relative with
 * `..`, chains) are followed only inside the rootfs, as in a chroot — by
 * files, directories, whiteouts, opaque whiteouts and hard links of a later
 * layer — and hard links never reach a host file. The layers are real tar
 * archives, written here byte by byte (ustar), applied to a temp rootfs next
 * to a sentinel directory that must come out unchanged.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ImageStore } from '../../src/worker/runtime/images/store.js';
import { resolveInRoot } from '../../src/worker/runtime/common/in-root.js';
import { applyLayer } from '../../src/worker/runtime/images/unpack.js';

type Entry =
  | { type: 'file'; name: string; data?: string; mode?: number }
  | { type: 'dir'; name: string; mode?: number }
  | { type: 'symlink'; name: string; target: string }
  | { type: 'hardlink'; name: string; target: string };

/** A ustar archive of `entries`, in order (names up to 100 bytes). */
function ustar(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.type === 'file' ? Buffer.from(e.data ?? '') : Buffer.alloc(0);
    const h = Buffer.alloc(512);
    const put = (s: string, off: number, len: number) => h.write(s, off, len, 'utf8');
    const octal = (n: number, off: number, len: number) => put(n.toString(8).padStart(len - 1, '0') + '\0', off, len);
    put(e.name, 0, 100);
    octal(e.type === 'dir' ? (e.mode ?? 0o755) : e.type === 'file' ? (e.mode ?? 0o644) : 0o777, 100, 8);
    octal(0, 108, 8);
    octal(0, 116, 8);
    octal(data.length, 124, 12);
    octal(1_700_000_000, 136, 12);
    h.fill(' ', 148, 156);
    put({ file: '0', hardlink: '1', symlink: '2', dir: '5' }[e.type], 156, 1);
    if (e.type === 'symlink' || e.type === 'hardlink') put(e.target, 157, 100);
    put('ustar\0', 257, 6);
    put('00', 263, 2);
    put('root', 265, 32);
    put('root', 297, 32);
    let sum = 0;
    for (const b of h) sum += b;
    put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

interface Scene {
  rootfs: string;
  outside: string;
  sentinel: string;
  layer(name: string, entries: Entry[]): string;
}

/** A temp rootfs (inside an image dir, as the store lays it out) and, beside it, a directory with a sentinel file. */
function scene(t: Test): Scene {
  const base = mkdtempSync(path.join(tmpdir(), 'shoal-unpack-'));
  t.teardown(() => rmSync(base, { recursive: true, force: true }));
  const rootfs = path.join(base, 'image', 'rootfs');
  const outside = path.join(base, 'host');
  mkdirSync(rootfs, { recursive: true });
  mkdirSync(outside);
  const sentinel = path.join(outside, 'sentinel');
  writeFileSync(sentinel, 'host data\n');
  return {
    rootfs,
    outside,
    sentinel,
    layer(name, entries) {
      const f = path.join(base, `${name}.tar`);
      writeFileSync(f, ustar(entries));
      return f;
    },
  };
}

/** The host side is exactly as it was: the sentinel alone, unchanged, not hard-linked from anywhere. */
function hostUntouched(t: Test, s: Scene, what: string): void {
  t.same(readdirSync(s.outside), ['sentinel'], `${what}: nothing created outside the rootfs`);
  t.equal(readFileSync(s.sentinel, 'utf8'), 'host data\n', `${what}: the sentinel is unchanged`);
  t.equal(statSync(s.sentinel).nlink, 1, `${what}: the sentinel is not hard-linked into the image`);
}

t.test('a lower layer\'s symlinks out of the rootfs: files, whiteouts, opaque whiteouts and hard links stay inside', async (t) => {
  const s = scene(t);
  const rel = path.relative(s.rootfs, s.outside); // ../../host
  await applyLayer(
    s.layer('l1', [
      { type: 'symlink', name: 'abs', target: s.outside },
      { type: 'symlink', name: 'root', target: '/' },
      { type: 'symlink', name: 'up', target: rel },
      { type: 'symlink', name: 'deep', target: '../../../../../../../../..' + s.outside },
      { type: 'dir', name: 'd/' },
      { type: 'symlink', name: 'd/chain', target: '../up' },
    ]),
    s.rootfs,
  );
  hostUntouched(t, s, 'layer 1');
  await applyLayer(
    s.layer('l2', [
      { type: 'file', name: 'abs/x', data: 'pwned\n' },
      { type: 'file', name: 'up/y', data: 'pwned\n' },
      { type: 'file', name: 'd/chain/z', data: 'pwned\n' },
      { type: 'file', name: `root${s.outside}/w`, data: 'pwned\n' },
      { type: 'file', name: 'deep/v', data: 'pwned\n' },
      { type: 'file', name: 'abs/.wh.sentinel' },
      { type: 'file', name: 'up/.wh.sentinel' },
      { type: 'file', name: 'd/chain/.wh.sentinel' },
      { type: 'file', name: `root${s.outside}/.wh..wh..opq` },
    ]),
    s.rootfs,
  );
  hostUntouched(t, s, 'layer 2 (files and whiteouts through the symlinks)');
  // As in a chroot: `abs -> <host dir>` leads to <rootfs>/<host dir>; `up -> ../../host` stops at the root.
  t.equal(readFileSync(path.join(s.rootfs, s.outside, 'x'), 'utf8'), 'pwned\n', 'abs/x landed inside the rootfs, where abs leads in a chroot');
  t.equal(readFileSync(path.join(s.rootfs, 'host', 'y'), 'utf8'), 'pwned\n', 'up/y too (.. stops at the root)');
  t.equal(readFileSync(path.join(s.rootfs, 'host', 'z'), 'utf8'), 'pwned\n', 'and a chain of links');
  t.ok(existsSync(path.join(s.rootfs, s.outside, 'w')) && existsSync(path.join(s.rootfs, s.outside, 'v')), 'root/… and deep/… as well');
  t.equal(readlinkSync(path.join(s.rootfs, 'abs')), s.outside, 'the symlinks themselves are kept');

  // Hard links to a host file through those symlinks: refused (the import fails), the host untouched.
  for (const target of ['abs/sentinel', 'up/sentinel', 'd/chain/sentinel', `root${s.outside}/sentinel`, `../../host/sentinel`, `${s.outside}/sentinel`]) {
    await t.rejects(applyLayer(s.layer('l3', [{ type: 'hardlink', name: 'h', target }]), s.rootfs), { code: 'FAILED' }, `hard link to ${target} refused`);
    hostUntouched(t, s, `hard link to ${target}`);
    t.notOk(existsSync(path.join(s.rootfs, 'h')), `hard link to ${target}: nothing created`);
  }
  // Directories a later layer lists over those symlinks replace the link; the host is not touched.
  await applyLayer(s.layer('l4', [{ type: 'dir', name: 'abs/' }, { type: 'file', name: 'abs/inside', data: 'ok\n' }]), s.rootfs);
  hostUntouched(t, s, 'a directory over the symlink');
  t.ok(lstatSync(path.join(s.rootfs, 'abs')).isDirectory(), 'abs is now a real directory in the rootfs');
  t.same(readdirSync(path.join(s.rootfs, 'abs')), ['inside']);
});

t.test('one layer that makes a symlink out and writes through it: refused, nothing outside touched', async (t) => {
  const s = scene(t);
  for (const [what, entries] of [
    ['an absolute link', [{ type: 'symlink', name: 'evil', target: s.outside }, { type: 'file', name: 'evil/x', data: 'pwned\n' }]],
    ['a link up', [{ type: 'symlink', name: 'evil', target: path.relative(s.rootfs, s.outside) }, { type: 'file', name: 'evil/x', data: 'pwned\n' }]],
    ['a hard link through it', [{ type: 'symlink', name: 'evil', target: s.outside }, { type: 'hardlink', name: 'h', target: 'evil/sentinel' }]],
    ['a name with ..', [{ type: 'file', name: '../../host/x', data: 'pwned\n' }]],
    ['a whiteout with ..', [{ type: 'file', name: '../../host/.wh.sentinel' }]],
    ['a whiteout of ..', [{ type: 'file', name: 'a/.wh..' }]],
  ] as [string, Entry[]][]) {
    await t.rejects(applyLayer(s.layer('bad', entries), s.rootfs), { code: 'FAILED' }, `${what}: refused`);
    hostUntouched(t, s, what);
  }
  t.same(readdirSync(path.dirname(s.rootfs)), ['rootfs'], 'no staging directory is left behind');
});

t.test('ordinary images keep working: links inside the rootfs are followed there, whiteouts apply, hard links stay hard links', async (t) => {
  const s = scene(t);
  await applyLayer(
    s.layer('base', [
      { type: 'dir', name: './' },
      { type: 'dir', name: 'usr/' },
      { type: 'dir', name: 'usr/lib/' },
      { type: 'file', name: 'usr/lib/a.so', data: 'a\n' },
      { type: 'file', name: 'usr/lib/gone.so', data: 'gone\n' },
      { type: 'symlink', name: 'lib', target: 'usr/lib' },
      { type: 'dir', name: 'run/' },
      { type: 'dir', name: 'var/' },
      { type: 'symlink', name: 'var/run', target: '/run' },
      { type: 'dir', name: 'etc/' },
      { type: 'file', name: 'etc/a', data: '1\n' },
      { type: 'file', name: 'etc/b', data: '2\n' },
      { type: 'file', name: 'bin/tool', data: 'tool\n', mode: 0o755 },
      { type: 'hardlink', name: 'bin/alias', target: 'bin/tool' },
    ]),
    s.rootfs,
  );
  t.equal(statSync(path.join(s.rootfs, 'bin/alias')).ino, statSync(path.join(s.rootfs, 'bin/tool')).ino, 'a hard link within the layer stays one');
  await applyLayer(
    s.layer('top', [
      { type: 'file', name: 'lib/b.so', data: 'b\n' },
      { type: 'file', name: 'lib/.wh.gone.so' },
      { type: 'file', name: 'var/run/pid', data: '1\n' },
      { type: 'dir', name: 'etc/', mode: 0o700 },
      { type: 'file', name: 'etc/.wh..wh..opq' },
      { type: 'file', name: 'etc/c', data: '3\n' },
      { type: 'file', name: 'bin/tool', data: 'tool v2\n', mode: 0o755 },
    ]),
    s.rootfs,
  );
  hostUntouched(t, s, 'ordinary layers');
  t.equal(readFileSync(path.join(s.rootfs, 'usr/lib/b.so'), 'utf8'), 'b\n', 'lib/b.so went where lib leads: usr/lib');
  t.ok(lstatSync(path.join(s.rootfs, 'lib')).isSymbolicLink(), 'lib is still the symlink');
  t.notOk(existsSync(path.join(s.rootfs, 'usr/lib/gone.so')), 'a whiteout through the symlink removed usr/lib/gone.so');
  t.ok(existsSync(path.join(s.rootfs, 'usr/lib/a.so')), 'and only it');
  t.equal(readFileSync(path.join(s.rootfs, 'run/pid'), 'utf8'), '1\n', 'var/run -> /run leads to the rootfs\'s /run');
  t.same(readdirSync(path.join(s.rootfs, 'etc')).sort(), ['c'], 'the opaque whiteout emptied etc of the lower layer, not of its own');
  t.equal(statSync(path.join(s.rootfs, 'etc')).mode & 0o777, 0o700, 'a listed directory brings its mode');
  t.equal(readFileSync(path.join(s.rootfs, 'bin/tool'), 'utf8'), 'tool v2\n', 'an upper file replaces the lower one');
  t.equal(readFileSync(path.join(s.rootfs, 'bin/alias'), 'utf8'), 'tool\n', 'the old hard link keeps the old content, as with any replace');
  t.notOk(readdirSync(s.rootfs).some((n) => n.includes('.wh.')), 'no whiteout marker extracted');
  t.same(readdirSync(path.dirname(s.rootfs)), ['rootfs'], 'no staging directory is left behind');
});

t.test('resolveInRoot: a chroot\'s view of the rootfs', async (t) => {
  const s = scene(t);
  await applyLayer(
    s.layer('links', [
      { type: 'symlink', name: 'abs', target: '/etc' },
      { type: 'symlink', name: 'up', target: '../../../..' },
      { type: 'symlink', name: 'loop', target: 'loop' },
      { type: 'file', name: 'file', data: 'f\n' },
    ]),
    s.rootfs,
  );
  t.equal(resolveInRoot(s.rootfs, 'abs/passwd'), path.join(s.rootfs, 'etc/passwd'));
  t.equal(resolveInRoot(s.rootfs, 'up/up/x'), path.join(s.rootfs, 'x'));
  t.equal(resolveInRoot(s.rootfs, '../../x'), path.join(s.rootfs, 'x'));
  t.equal(resolveInRoot(s.rootfs, ''), s.rootfs);
  t.equal(resolveInRoot(s.rootfs, 'file/x'), null, 'nothing is below a file');
  t.throws(() => resolveInRoot(s.rootfs, 'loop/x'), { code: 'FAILED' }, 'a symlink loop is an error, not a hang');
});

t.test('an image archive whose layer or config is a symlink to a host file is refused', async (t) => {
  const s = scene(t);
  // A host file that happens to be a valid layer, and another that is valid JSON.
  const hostLayer = path.join(s.outside, 'backup.tar');
  writeFileSync(hostLayer, ustar([{ type: 'file', name: 'stolen', data: 'host secret\n' }]));
  const hostJson = path.join(s.outside, 'creds.json');
  writeFileSync(hostJson, JSON.stringify({ config: { Env: ['TOKEN=host-secret'] } }));
  const cfg = JSON.stringify({ config: { Cmd: ['sh'] } });
  const archives: [string, Entry[]][] = [
    [
      'the layer',
      [
        { type: 'file', name: 'manifest.json', data: JSON.stringify([{ Config: 'config.json', Layers: ['layer.tar'] }]) },
        { type: 'file', name: 'config.json', data: cfg },
        { type: 'symlink', name: 'layer.tar', target: hostLayer },
      ],
    ],
    [
      'the config',
      [
        { type: 'file', name: 'manifest.json', data: JSON.stringify([{ Config: 'config.json', Layers: [] }]) },
        { type: 'symlink', name: 'config.json', target: hostJson },
      ],
    ],
  ];
  for (const [what, entries] of archives) {
    const store = new ImageStore(path.join(path.dirname(s.rootfs), `store-${what.replace(' ', '-')}`));
    await t.rejects(store.import('stolen:1', s.layer(`archive-${what.replace(' ', '-')}`, entries)), { code: 'FAILED', message: /is a link to a file outside the archive/ }, `${what}: refused`);
    t.same(store.list(), [], `${what}: no image`);
  }
});
