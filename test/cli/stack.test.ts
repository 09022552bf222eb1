/**
 * `shoal stack deploy/ls/services/ps/rm` against a real API server (the
 * in-process store with its toy orchestrator marking tasks running), and the
 * docker CLI reading the same stack:
 * - a deploy creates the network, secret, config and services, labelled with
 *   the stack, dependencies first, and waits for them to converge;
 * - an unchanged redeploy sends nothing (no service version moves);
 * - changing one service's image updates only that service;
 * - --prune removes a service the file dropped;
 * - a bad file exits 1 with one line and changes nothing;
 * - stack rm leaves no service, network, secret or config behind.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { startApi } from '../api/helpers.js';
import { oneLineError, shoalInProcess } from './helpers.js';

const dockerPresent = spawnSync('docker', ['--version'], { stdio: 'ignore' }).status === 0;

const COMPOSE = (webImage: string, withApi = true) => `
services:
  web:
    image: ${webImage}
    command: ["sleep", "600"]
    deploy: {replicas: 2}
    secrets: [token]
    configs: [conf]
${withApi ? '    depends_on: [api]\n' : ''}${
  withApi
    ? `  api:
    image: sleep
    command: "600"
    networks: [back]
`
    : ''
}networks:
  back: {}
secrets:
  token: {file: ./token.txt}
configs:
  conf: {file: ./app.conf}
`;

/** A real API server with its toy orchestrator, a temp dir, and both CLIs pointed at the server. */
async function setup(t: Test) {
  const api = await startApi();
  t.teardown(() => api.close());
  api.ctx.autoConverge();
  const dir = mkdtempSync(path.join(tmpdir(), 'shoal-stack-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const shoal = (...args: string[]) => shoalInProcess('-H', `http://127.0.0.1:${api.port}`, ...args);
  const docker = (...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((resolve) =>
      execFile('docker', args, { env: { PATH: process.env.PATH ?? '', HOME: dir, DOCKER_CONFIG: path.join(dir, '.docker'), DOCKER_HOST: `tcp://127.0.0.1:${api.port}` } }, (err, out, e) =>
        resolve({ code: err ? 1 : 0, out: String(out), err: String(e) }),
      ),
    );
  return { api, dir, shoal, docker };
}

t.test('stack deploy, redeploy, update one service, prune, bad file, rm', async (t) => {
  const { api, dir, shoal, docker } = await setup(t);
  writeFileSync(path.join(dir, 'token.txt'), 's3cret');
  writeFileSync(path.join(dir, 'app.conf'), 'x=1');
  const file = path.join(dir, 'c.yml');
  const store = api.ctx.store;
  const versions = () => Object.fromEntries(store.list('service').map((s) => [s.Spec.Name, s.Version.Index]));

  writeFileSync(file, COMPOSE('busybox:1.36'));
  let r = await shoal('stack', 'deploy', '-c', file, 'st');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^Creating network st_back\nCreating network st_default\nCreating secret st_token\nCreating config st_conf\nCreating service st_api\n(?:[\s\S]*)Creating service st_web\n/, 'everything it needs, dependencies first');
  t.match(r.out, /st_web\n[\s\S]*2\/2 running\n[\s\S]*verify: Service converged\n$/, 'progress until the services converge');
  const web = store.list('service').find((s) => s.Spec.Name === 'st_web')!;
  t.match(web.Spec.Labels, { 'com.docker.stack.namespace': 'st', 'com.docker.stack.image': 'busybox:1.36' });
  t.same(web.Spec.Networks?.map((n) => store.get('network', n.Target)?.Spec.Name ?? n.Target), ['st_default'], 'the default network');
  t.same(store.list('network').filter((n) => n.Spec.Labels?.['com.docker.stack.namespace'] === 'st').map((n) => n.Spec.Name).sort(), ['st_back', 'st_default']);
  t.equal(store.list('secret').filter((s) => s.Spec.Name === 'st_token').length, 1);
  t.equal(store.list('config').filter((s) => s.Spec.Name === 'st_conf').length, 1);

  r = await shoal('stack', 'ls');
  t.match(r.out, /^NAME +SERVICES\nst +2\n$/);
  r = await shoal('stack', 'services', 'st');
  t.match(r.out, /st_api +replicated +1\/1 +sleep[\s\S]*st_web +replicated +2\/2 +busybox:1\.36/);
  r = await shoal('stack', 'ps', 'st', '--format', '{{.Name}} {{.CurrentState}}');
  t.equal(r.code, 0, r.err);
  t.equal(r.out.trim().split('\n').length, 3, 'three tasks');
  r = await shoal('stack', 'ps', 'st', '-q', '--filter', 'name=st_web');
  t.equal(r.code, 0, r.err);
  t.equal(r.out.trim().split('\n').length, 2, '--filter narrows them');

  // ---- an unchanged redeploy sends nothing
  const before = versions();
  r = await shoal('stack', 'deploy', '-c', file, '-d', 'st');
  t.equal(r.code, 0, r.err);
  t.notMatch(r.out, /Creating|Updating/, 'nothing created or updated');
  t.same(versions(), before, 'no service version moved: no task restarts');

  // ---- one image changed: only that service is updated
  writeFileSync(file, COMPOSE('busybox:1.37'));
  r = await shoal('stack', 'deploy', '-c', file, '-d', 'st');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /^Updating service st_web \(id: [0-9a-z]{25}\)\n$/);
  const after = versions();
  t.equal(after.st_api, before.st_api, 'st_api untouched');
  t.not(after.st_web, before.st_web, 'st_web updated');

  // ---- a bad file changes nothing
  writeFileSync(file, COMPOSE('busybox:1.38').replace('replicas: 2', 'replicas: two'));
  r = await shoal('stack', 'deploy', '-c', file, '-d', 'st');
  t.equal(oneLineError(r), null);
  t.match(r.err, /^shoal: .*c\.yml:6: services\.web\.deploy\.replicas: must be a whole number ≥ 0, got "two"\n$/);
  t.same(versions(), after, 'nothing changed');

  // ---- --prune: the service the file dropped goes
  writeFileSync(file, COMPOSE('busybox:1.37', false));
  r = await shoal('stack', 'deploy', '-c', file, '-d', '--prune', 'st');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /Removing service st_api\n/);
  t.same(Object.keys(versions()), ['st_web']);

  // ---- the docker CLI sees the same stack
  if (dockerPresent) {
    t.match((await docker('stack', 'ls')).out, /\nst +1\n/, 'docker stack ls');
    t.match((await docker('stack', 'services', 'st')).out, /st_web +replicated +2\/2 +busybox:1\.37/, 'docker stack services');
    t.match((await docker('stack', 'ps', 'st')).out, /st_web\.1 +busybox:1\.37/, 'docker stack ps');
  } else t.comment('the docker CLI is not installed: its view of the stack is not checked');

  // ---- rm: nothing left behind
  r = await shoal('stack', 'rm', 'st');
  t.equal(r.code, 0, r.err);
  t.match(r.out, /Removing service st_web\nRemoving config st_conf\nRemoving secret st_token\nRemoving network st_(back|default)\nRemoving network st_(back|default)\n/);
  const left = [...store.list('service'), ...store.list('secret'), ...store.list('config'), ...store.list('network')].filter((o) => (o.Spec.Labels as Record<string, string> | undefined)?.['com.docker.stack.namespace'] === 'st');
  t.same(left, [], 'no service, network, secret or config of the stack is left');
  r = await shoal('stack', 'rm', 'st');
  t.equal(oneLineError(r), null);
  t.match(r.err, /Nothing found in stack: st/);
});

t.test('external networks, secrets and configs: must exist; both CLIs use them as they are', async (t) => {
  const { api, dir, shoal, docker } = await setup(t);
  const file = path.join(dir, 'ext.yml');
  writeFileSync(
    file,
    `services:
  app:
    image: sleep
    command: ["600"]
    networks: [shared]
    secrets: [pw]
    configs: [settings]
networks:
  shared: {external: true}
secrets:
  pw: {external: true}
configs:
  settings: {external: true}
`,
  );
  let r = await shoal('stack', 'deploy', '-c', file, '-d', 'ex');
  t.equal(oneLineError(r), null);
  t.match(r.err, /network shared is declared as external, but could not be found: create it first/);
  t.equal(api.ctx.store.list('service').length, 0, 'nothing was created');

  t.equal((await shoal('network', 'create', '-d', 'overlay', 'shared')).code, 0);
  writeFileSync(path.join(dir, 'pw.txt'), 'pw');
  t.equal((await shoal('secret', 'create', 'pw', path.join(dir, 'pw.txt'))).code, 0);
  t.equal((await shoal('config', 'create', 'settings', path.join(dir, 'pw.txt'))).code, 0);
  r = await shoal('stack', 'deploy', '-c', file, '-d', 'ex');
  t.equal(r.code, 0, r.err);
  t.notMatch(r.out, /Creating (network|secret|config)/, 'the external objects are used, not made');
  const svc = api.ctx.store.list('service').find((s) => s.Spec.Name === 'ex_app')!;
  t.same(svc.Spec.TaskTemplate.ContainerSpec?.Secrets?.map((s) => s.SecretName), ['pw']);
  t.same(svc.Spec.TaskTemplate.ContainerSpec?.Configs?.map((c) => c.ConfigName), ['settings']);
  r = await shoal('stack', 'rm', 'ex');
  t.equal(r.code, 0, r.err);
  t.ok(api.ctx.store.list('network').some((n) => n.Spec.Name === 'shared') && api.ctx.store.list('secret').length === 1 && api.ctx.store.list('config').length === 1, 'stack rm leaves the external objects alone');

  if (!dockerPresent) return t.comment('the docker CLI is not installed: its deploy is not tried');
  const d = await docker('stack', 'deploy', '-c', file, 'dx');
  t.equal(d.code, 0, `docker stack deploy with external objects: ${d.err}`);
  const dsvc = api.ctx.store.list('service').find((s) => s.Spec.Name === 'dx_app');
  t.ok(dsvc, 'docker made the service');
  t.same(dsvc?.Spec.TaskTemplate.ContainerSpec?.Secrets?.map((s) => s.SecretName), ['pw'], 'with the external secret');
});
