/**
 * An oci task's working directory (ContainerSpec.Dir, or the image's
 * WorkingDir) is created inside the task's rootfs, where the container will
 * see it, whatever the path or the image holds: `..` stops at the rootfs's
 * root and the image's symlinks (absolute, relative, up and out) lead inside
 * it. Likewise the image's /etc/passwd is read inside it. Against a real
 * temp rootfs beside a sentinel directory, through buildConfig (no runc
 * needed: the bundle is what decides where the directory goes).
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { TaskRunSpec } from '../../src/worker/runtime/interface.js';
import type { ResolvedImage } from '../../src/worker/runtime/images/types.js';
import { buildConfig } from '../../src/worker/runtime/oci/bundle.js';

const base = mkdtempSync(path.join(tmpdir(), 'shoal-workdir-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));
const rootfs = path.join(base, 'task', 'rootfs');
const outside = path.join(base, 'host');
mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
mkdirSync(outside);
writeFileSync(path.join(outside, 'sentinel'), 'host\n');
writeFileSync(path.join(outside, 'passwd'), 'hostonly:x:4242:4242::/home/hostonly:/bin/sh\n');
writeFileSync(path.join(rootfs, 'file'), 'a file\n');
// What a crafted image could hold.
symlinkSync(outside, path.join(rootfs, 'abs'));
symlinkSync('/', path.join(rootfs, 'root'));
symlinkSync(path.relative(rootfs, outside), path.join(rootfs, 'up'));
symlinkSync(path.join(outside, 'passwd'), path.join(rootfs, 'etc', 'passwd'));

const image: ResolvedImage = { id: 'sha256:' + '0'.repeat(64), name: 'crafted:1', rootfs, config: { Cmd: ['sh'] }, size: 0, created: new Date(0).toISOString(), source: 'tarball' };

function spec(over: Partial<TaskRunSpec>): TaskRunSpec {
  return { taskId: 'task0123456789', name: 'web.1.task0123456789', image: 'crafted:1', env: [], mounts: [], limits: {}, labels: {}, ...over };
}

function bundle(over: Partial<TaskRunSpec>, img: ResolvedImage = image) {
  const taskDir = path.join(base, 'task', 'dir');
  return buildConfig({ spec: spec(over), image: img, rootfs, taskDir, cgroupsPath: '/shoal/test', volumesDir: path.join(base, 'volumes') }) as { process: { cwd: string; user: { uid: number } } };
}

function hostUntouched(t: Test, what: string): void {
  t.same(readdirSync(outside).sort(), ['passwd', 'sentinel'], `${what}: nothing created outside the rootfs`);
  t.notOk(existsSync(path.join(base, 'made')), `${what}: nor beside it`);
}

t.test('Dir through symlinks out of the image or with ..: created inside the rootfs, nothing outside', async (t) => {
  const cases: [string, string][] = [
    ['/abs/made', path.join(rootfs, outside, 'made')],
    [`/root${outside}/made-root`, path.join(rootfs, outside, 'made-root')],
    ['/up/made-up', path.join(rootfs, 'host', 'made-up')],
    ['/../../host/made-dotdot', path.join(rootfs, 'host', 'made-dotdot')],
    ['/../../made', path.join(rootfs, 'made')],
    ['/srv/app', path.join(rootfs, 'srv', 'app')],
  ];
  for (const [dir, where] of cases) {
    const c = bundle({ dir });
    t.equal(c.process.cwd, dir, `${dir}: the container is told the path as given (runc resolves it inside)`);
    t.ok(lstatSync(where).isDirectory(), `${dir}: created at ${path.relative(rootfs, where)} inside the rootfs`);
    hostUntouched(t, dir);
  }
  const fromImage = bundle({}, { ...image, config: { Cmd: ['sh'], WorkingDir: '/abs/from-image' } });
  t.equal(fromImage.process.cwd, '/abs/from-image');
  t.ok(existsSync(path.join(rootfs, outside, 'from-image')), "the image's own WorkingDir goes the same way");
  hostUntouched(t, 'image WorkingDir');
});

t.test('Dir that is, or passes through, a file: a clear INVALID_SPEC', async (t) => {
  t.throws(() => bundle({ dir: '/file' }), { code: 'INVALID_SPEC', message: /working directory "\/file" is not a directory in image crafted:1/ });
  t.throws(() => bundle({ dir: '/file/below' }), { code: 'INVALID_SPEC', message: /is not a directory/ });
  t.throws(() => bundle({ dir: 'relative' }), { code: 'INVALID_SPEC', message: /must be absolute/ });
  hostUntouched(t, 'refused dirs');
});

t.test("the image's /etc/passwd is read inside the image, even when it is a symlink to the host's", async (t) => {
  t.throws(() => bundle({ user: 'hostonly' }), { code: 'INVALID_SPEC', message: /user "hostonly" not found/ }, "a user only the host's file knows is not found");
  t.equal(bundle({ user: '1000' }).process.user.uid, 1000, 'numeric users need no file');
});

t.test('a named volume keeps the labels of the task that made it (docker stack deploy labels its volumes)', async (t) => {
  const vol = path.join(base, 'volumes', 'st_data');
  bundle({ mounts: [{ type: 'volume', source: 'st_data', target: '/data', volumeLabels: { 'com.docker.stack.namespace': 'st' } }] });
  t.ok(existsSync(path.join(vol, '_data')), 'the volume is made');
  t.same(JSON.parse(readFileSync(path.join(vol, 'labels.json'), 'utf8')), { 'com.docker.stack.namespace': 'st' }, 'with its labels');
  bundle({ mounts: [{ type: 'volume', source: 'st_data', target: '/data', volumeLabels: { other: 'x' } }] });
  t.same(JSON.parse(readFileSync(path.join(vol, 'labels.json'), 'utf8')), { 'com.docker.stack.namespace': 'st' }, "a later task's labels do not replace the creator's");
});
