/**
 * The docker runtime pulls images whose name gives a registry through its
 * engine (POST /images/create, with the node's docker login as
 * X-Registry-Auth): a real dockerd on a private socket, Debian's
 * docker-registry on loopback, one public and one token-auth repository.
 * Skipped without dockerd and root, busybox-static, docker-registry or
 * skopeo.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { createRuntime } from '../../src/worker/runtime/index.js';
import { busyboxBinary, busyboxRootfs } from '../helpers/busybox-rootfs.js';
import { dockerdAvailable, startDockerd } from '../helpers/dockerd.js';
import { buildLayout, push, registryUnavailable, startRegistry } from '../helpers/registry.js';

const avail = dockerdAvailable();
const why = !avail.ok ? `docker runtime: ${avail.reason}` : !busyboxBinary() ? 'busybox-static is not installed' : registryUnavailable();

t.test('the docker runtime has its engine pull registry images', { skip: why ?? false }, async (t) => {
  const d = await startDockerd({ name: 'pull-test' });
  t.teardown(() => d.stop());
  const creds = { user: 'shoal', password: 'dock3r' };
  const [pub, priv] = [await startRegistry(t), await startRegistry(t, { token: creds })];
  const work = t.testdir();
  buildLayout(path.join(work, 'l'), '1', [{ layers: [busyboxRootfs().tarball], config: { Cmd: ['sh'] } }]);
  await push(path.join(work, 'l'), '1', `${pub.addr}/busybox:1`);
  await push(path.join(work, 'l'), '1', `${priv.addr}/team/busybox:1`, creds);
  const rt = createRuntime('docker', { dataDir: path.join(work, 'data'), docker: { socketPath: d.socketPath } });
  const spec = (image: string) => ({ taskId: 'dockerpull1', name: 'pull.1', image, env: [], mounts: [], limits: {}, labels: {} });

  const said: string[] = [];
  await rt.prepare(spec(`${pub.addr}/busybox:1`), (m) => said.push(m));
  t.same(said, [`pulling image ${pub.addr}/busybox:1`], 'says it pulls');
  t.equal((await d.api('GET', `/images/${encodeURIComponent(`${pub.addr}/busybox:1`)}/json`)).status, 200, 'the engine has it');
  said.length = 0;
  await rt.prepare(spec(`${pub.addr}/busybox:1`), (m) => said.push(m));
  t.same(said, [], 'and does not pull it again');

  const name = `${priv.addr}/team/busybox:1`;
  await t.rejects(rt.prepare(spec(name)), { code: 'FAILED', message: new RegExp(`Docker could not pull ${name.replace(/\./g, '\\.')}: .*docker login ${priv.addr.replace(/\./g, '\\.')}`) }, 'a private image without a login: says how to log in');
  const login = path.join(work, 'docker');
  mkdirSync(login);
  writeFileSync(path.join(login, 'config.json'), JSON.stringify({ auths: { [priv.addr]: { auth: Buffer.from(`${creds.user}:${creds.password}`).toString('base64') } } }));
  const before = process.env.DOCKER_CONFIG;
  process.env.DOCKER_CONFIG = login;
  try {
    await rt.prepare(spec(name));
  } finally {
    if (before === undefined) delete process.env.DOCKER_CONFIG;
    else process.env.DOCKER_CONFIG = before;
  }
  t.equal((await d.api('GET', `/images/${encodeURIComponent(name)}/json`)).status, 200, 'with the node’s login, the engine pulled it');
  await t.rejects(rt.prepare(spec(`${pub.addr}/nothing:1`)), { message: /Docker could not pull/ }, 'an image the registry lacks');
});
