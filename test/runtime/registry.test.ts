/**
 * Pulling images from a real registry (Debian's docker-registry on
 * loopback, filled by skopeo) into the node image store: by tag and by
 * digest, a multi-platform index resolved to this node's platform, blobs
 * verified and cached (a second pull reads no blob again), one pull for
 * concurrent requests, HTTP Basic auth with the node's `docker login`, and
 * the errors a user meets (no such image, no credentials, wrong ones).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ImageStore } from '../../src/worker/runtime/images/store.js';
import { challengeParams, nodeCredentials, registryRef } from '../../src/worker/runtime/images/registry.js';
import { RuntimeError } from '../../src/worker/runtime/interface.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { buildLayout, push, registryUnavailable, startRegistry, tarOf } from '../helpers/registry.js';

const why = registryUnavailable() ?? (busyboxBinary() ? null : 'busybox-static is not installed');

const rejects = async (t: Test, p: Promise<unknown>, code: string, re: RegExp, what: string) => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof RuntimeError, `${what}: a RuntimeError`);
  t.match(err, { code, message: re }, what);
};

t.test('references: which names a registry', async (t) => {
  t.equal(registryRef('busybox'), null, 'a bare name: the local store (or Docker Hub)');
  t.equal(registryRef('team/app:1'), null, 'a path without a host: Docker Hub');
  t.equal(registryRef('docker.io/library/busybox'), null);
  t.same(registryRef('127.0.0.1:5000/team/app:1.2'), { registry: '127.0.0.1:5000', repository: 'team/app', reference: '1.2' });
  t.same(registryRef('localhost/app'), { registry: 'localhost', repository: 'app', reference: 'latest' });
  const d = `sha256:${'a'.repeat(64)}`;
  t.same(registryRef(`registry.local/app:1@${d}`), { registry: 'registry.local', repository: 'app', reference: d }, 'a digest wins over the tag');
  t.throws(() => registryRef('registry.local/App'), /invalid repository/);
  t.throws(() => registryRef('registry.local/app@sha256:12'), /invalid digest/);
});

t.test('the node’s docker login', async (t) => {
  const dir = t.testdir({ 'config.json': JSON.stringify({ auths: { 'r.local:5000': { auth: Buffer.from('u:p').toString('base64') }, 'https://other.local': { username: 'a', password: 'b' } } }) });
  t.equal(nodeCredentials('r.local:5000', { DOCKER_CONFIG: dir }), 'u:p');
  t.equal(nodeCredentials('other.local', { DOCKER_CONFIG: dir }), 'a:b', 'an https:// key, as older docker logins wrote');
  t.equal(nodeCredentials('nope.local', { DOCKER_CONFIG: dir }), undefined);
  t.equal(nodeCredentials('r.local:5000', { DOCKER_CONFIG: path.join(dir, 'missing') }), undefined);
});

t.test('pulls from a registry', { skip: why ?? false }, async (t) => {
  const reg = await startRegistry(t);
  const work = t.testdir();
  const rootfs = busyboxRootfs();
  const extra = tarOf(work, 'extra', { 'etc/motd': 'pulled\n' });
  const layout = path.join(work, 'one');
  const one = buildLayout(layout, '1', [{ layers: [rootfs.tarball, extra], config: { Cmd: ['sh', '-c', 'cat /etc/motd'], Env: ['A=1'] } }]);
  await push(layout, '1', `${reg.addr}/busybox:1`);

  const store = new ImageStore(path.join(work, 'store'));
  const name = `${reg.addr}/busybox:1`;
  t.equal(store.resolve(name), null, 'not here before the pull');
  const r = await store.pull(name);
  t.equal(r.blobsFetched, 3, 'config and two layers fetched');
  t.equal(r.manifestDigest, one.manifests[0], 'the manifest pushed');
  const img = store.resolve(name)!;
  t.ok(img, 'resolves after the pull');
  t.ok(existsSync(path.join(img.rootfs, 'bin', 'busybox')), 'the first layer is unpacked');
  t.equal(readFileSync(path.join(img.rootfs, 'etc', 'motd'), 'utf8'), 'pulled\n', 'and the second over it');
  t.same(img.config, { Cmd: ['sh', '-c', 'cat /etc/motd'], Env: ['A=1'] }, 'the image config');
  t.equal(img.source, 'registry');
  for (const l of one.layers[0]!) t.equal(reg.blobReads(l), 1, `layer ${l.slice(0, 19)} read once`);

  // Again: the blobs are in the node's cache; only the manifest is read.
  const again = await store.pull(name);
  t.equal(again.blobsFetched, 0, 'a second pull fetches no blob');
  for (const l of one.layers[0]!) t.equal(reg.blobReads(l), 1, 'still one read per layer');

  // Pinned by digest, as Swarm writes task images.
  t.ok(store.resolve(`${name}@${one.manifests[0]}`), 'the pinned digest is the one pulled: no new pull needed');
  t.equal(store.resolve(`${name}@sha256:${'b'.repeat(64)}`), null, 'another digest is not this image');
  const byDigest = await store.pull(`${reg.addr}/busybox@${one.manifests[0]}`);
  t.equal(byDigest.manifestDigest, one.manifests[0], 'a pull by digest');

  // Concurrent tasks needing one image share one pull.
  const layout2 = path.join(work, 'two');
  const two = buildLayout(layout2, '2', [{ layers: [tarOf(work, 'solo', { 'solo.txt': 'x'.repeat(100_000) })] }]);
  await push(layout2, '2', `${reg.addr}/solo:2`);
  const fresh = new ImageStore(path.join(work, 'store2'));
  const results = await Promise.all([1, 2, 3, 4].map(() => fresh.pull(`${reg.addr}/solo:2`)));
  t.ok(results.every((x) => x === results[0]), 'four requests, one pull');
  t.equal(reg.blobReads(two.layers[0]![0]!), 1, 'its layer read once');

  // What a user meets.
  await rejects(t, store.pull(`${reg.addr}/nothing:1`), 'IMAGE_NOT_FOUND', /image 127\.0\.0\.1:\d+\/nothing:1 is not in registry/, 'an image the registry lacks');
  await rejects(t, store.pull(`${reg.addr}/busybox:9`), 'IMAGE_NOT_FOUND', /busybox:9 is not in registry/, 'a tag it lacks');
  await rejects(t, store.pull('127.0.0.1:1/x:1'), 'UNAVAILABLE', /cannot reach registry 127\.0\.0\.1:1/, 'a registry that is not there');
  t.throws(() => store.pull('busybox:1'), /names no registry/);
});

t.test('a multi-platform index: this node’s platform is pulled', { skip: why ?? false }, async (t) => {
  const reg = await startRegistry(t);
  const work = t.testdir();
  const layout = path.join(work, 'multi');
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
  const other = arch === 'amd64' ? 'arm64' : 'amd64';
  const built = buildLayout(layout, 'm', [
    { layers: [tarOf(work, 'other', { arch: other })], platform: { os: 'linux', architecture: other } },
    { layers: [tarOf(work, 'mine', { arch })], platform: { os: 'linux', architecture: arch } },
  ]);
  await push(layout, 'm', `${reg.addr}/multi:m`);
  const store = new ImageStore(path.join(work, 'store'));
  const r = await store.pull(`${reg.addr}/multi:m`);
  t.equal(r.manifestDigest, built.manifests[1], `the linux/${arch} manifest`);
  t.equal(readFileSync(path.join(store.resolve(`${reg.addr}/multi:m`)!.rootfs, 'arch'), 'utf8'), arch);
  t.equal(reg.blobReads(built.layers[0]![0]!), 0, `the linux/${other} layer is never read`);
});

t.test('a registry that asks for credentials: the node’s docker login', { skip: why ?? false }, async (t) => {
  const creds = { user: 'shoal', password: 's3cret' };
  const reg = await startRegistry(t, { htpasswd: creds });
  const work = t.testdir();
  const layout = path.join(work, 'private');
  buildLayout(layout, 'p', [{ layers: [tarOf(work, 'p', { 'private.txt': 'yes' })] }]);
  await push(layout, 'p', `${reg.addr}/private:p`, creds);
  const store = new ImageStore(path.join(work, 'store'));
  const name = `${reg.addr}/private:p`;
  await rejects(t, store.pull(name), 'FAILED', new RegExp(`registry ${reg.addr} needs credentials .*docker login ${reg.addr}`), 'no credentials: says how to log in');
  await rejects(t, store.pull(name, { credentials: 'shoal:wrong' }), 'FAILED', /the node’s credentials for it were not accepted/, 'wrong credentials');
  const dockerConfig = path.join(work, 'docker');
  mkdirSync(dockerConfig);
  writeFileSync(path.join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [reg.addr]: { auth: Buffer.from(`${creds.user}:${creds.password}`).toString('base64') } } }));
  const login = nodeCredentials(reg.addr, { DOCKER_CONFIG: dockerConfig });
  const r = await store.pull(name, { credentials: login! });
  t.equal(r.blobsFetched, 2, 'pulled with the node’s login');
  t.equal(readFileSync(path.join(store.resolve(name)!.rootfs, 'private.txt'), 'utf8'), 'yes');
});

t.test('a registry with token auth (as Docker Hub and most registries): a bearer token from its token service', { skip: why ?? false }, async (t) => {
  const creds = { user: 'shoal', password: 't0ken' };
  const reg = await startRegistry(t, { token: creds });
  const work = t.testdir();
  const layout = path.join(work, 'tok');
  buildLayout(layout, 't', [{ layers: [tarOf(work, 't', { 'token.txt': 'bearer' })] }]);
  await push(layout, 't', `${reg.addr}/team/tok:t`, creds);
  const store = new ImageStore(path.join(work, 'store'));
  const name = `${reg.addr}/team/tok:t`;
  await rejects(t, store.pull(name), 'FAILED', new RegExp(`token service of registry ${reg.addr} refused .*docker login ${reg.addr}`), 'no login: the token service refuses, and the error says how to log in');
  await rejects(t, store.pull(name, { credentials: 'shoal:nope' }), 'FAILED', /credentials for it were not accepted/, 'a wrong login');
  const asked = reg.tokenRequests();
  const r = await store.pull(name, { credentials: `${creds.user}:${creds.password}` });
  t.equal(r.blobsFetched, 2, 'pulled with a token');
  t.ok(reg.tokenRequests() > asked, 'the token service was asked');
  t.equal(readFileSync(path.join(store.resolve(name)!.rootfs, 'token.txt'), 'utf8'), 'bearer');
  t.same(challengeParams('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"'), { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' });
});

t.test('the oci runtime pulls in prepare, and says so while it does', { skip: why ?? false }, async (t) => {
  const { createRuntime } = await import('../../src/worker/runtime/index.js');
  const dataDir = t.testdir();
  const rt = createRuntime('oci', { dataDir });
  const ok = await rt.available();
  if (!ok.ok) return void t.comment(`oci runtime unavailable: ${ok.reason}`);
  const reg = await startRegistry(t);
  const work = path.join(dataDir, 'work');
  mkdirSync(work);
  buildLayout(path.join(work, 'l'), '1', [{ layers: [busyboxRootfs().tarball] }]);
  await push(path.join(work, 'l'), '1', `${reg.addr}/busybox:1`);
  const spec = { taskId: 'pulltask1', name: 'pull.1', image: `${reg.addr}/busybox:1`, env: [], mounts: [], limits: {}, labels: {} };
  const said: string[] = [];
  await rt.prepare(spec, (m) => said.push(m));
  t.same(said, [`pulling image ${reg.addr}/busybox:1`], 'the progress a task status shows');
  t.ok(new ImageStore(path.join(dataDir, 'images')).resolve(spec.image), 'the image is in the node’s store');
  said.length = 0;
  await rt.prepare(spec, (m) => said.push(m));
  t.same(said, [], 'nothing to pull the second time');
});
