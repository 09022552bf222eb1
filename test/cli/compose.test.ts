/**
 * Compose files → a stack plan (src/cli/stack/): each compose key the
 * deploy supports, interpolation and .env, and a table of broken files with
 * the one line each must print (file, line, key, what is wrong).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { planStack } from '../../src/cli/stack/plan.js';
import { readCompose } from '../../src/cli/stack/source.js';

const dir = mkdtempSync(path.join(tmpdir(), 'shoal-compose-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string, name = `c${++n}.yml`): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
const plan = (text: string, env: NodeJS.ProcessEnv = {}) => planStack('st', readCompose([file(text)], env), env);
const error = (text: string, env: NodeJS.ProcessEnv = {}): string => {
  try {
    plan(text, env);
  } catch (err) {
    return (err as Error).message.replace(dir + '/', '');
  }
  return 'no error';
};

t.test('every supported service key reaches the service spec', async (t) => {
  writeFileSync(path.join(dir, 'token.txt'), 's3cret');
  writeFileSync(path.join(dir, 'app.conf'), 'x=1');
  const p = plan(`
version: "3.8"
services:
  web:
    image: busybox:1.36
    entrypoint: ["httpd"]
    command: -f -p 8080
    environment: [A=1, "B=two words"]
    labels: {tier: front}
    working_dir: /www
    user: "1000"
    hostname: web1
    stop_grace_period: 1m30s
    stop_signal: SIGTERM
    init: true
    runtime: oci
    ports: ["8080:80", "53:53/udp", {target: 443, published: 8443, mode: host}]
    networks:
      front: {aliases: [www]}
    volumes: ["data:/data", "./site:/www:ro", {type: tmpfs, target: /tmp}]
    secrets: [token, {source: token, target: tk, uid: "1", gid: "2", mode: 0400}]
    configs: [{source: conf, target: /etc/app.conf}]
    healthcheck: {test: "wget -q -O- localhost:8080", interval: 5s, timeout: 2s, retries: 3, start_period: 10s, start_interval: 1s}
    deploy:
      replicas: 3
      labels: {com.example: x}
      endpoint_mode: dnsrr
      placement: {constraints: [node.role==worker], preferences: [{spread: node.labels.zone}], max_replicas_per_node: 2}
      resources: {limits: {cpus: "0.5", memory: 64M, pids: 100}, reservations: {cpus: "0.25", memory: 32M}}
      restart_policy: {condition: on-failure, delay: 2s, max_attempts: 3, window: 30s}
      update_config: {parallelism: 2, delay: 1s, failure_action: rollback, monitor: 5s, max_failure_ratio: 0.5, order: start-first}
      rollback_config: {parallelism: 1, order: stop-first}
    x-note: extensions are allowed
  db:
    image: sleep
    command: ["600"]
    environment: {C: "3", FROM_ENV:}
    depends_on: {web: {condition: service_healthy}}
networks:
  front: {attachable: true, ipam: {config: [{subnet: 10.99.0.0/24}]}}
volumes:
  data: {}
secrets:
  token: {file: ./token.txt}
configs:
  conf: {file: ./app.conf}
`, { FROM_ENV: 'yes' });
  t.same(p.services.map((s) => s.key), ['web', 'db'], 'dependencies first');
  const web = p.services[0]!.spec;
  t.equal(web.Name, 'st_web');
  t.same(web.Labels, { 'com.example': 'x', 'com.docker.stack.namespace': 'st', 'com.docker.stack.image': 'busybox:1.36' });
  const c = web.TaskTemplate.ContainerSpec!;
  t.same([c.Image, c.Command, c.Args, c.Env, c.Dir, c.User, c.Hostname, c.StopGracePeriod, c.StopSignal, c.Init], ['busybox:1.36', ['httpd'], ['-f', '-p', '8080'], ['A=1', 'B=two words'], '/www', '1000', 'web1', 90e9, 'SIGTERM', true]);
  t.same(c.Labels, { tier: 'front', 'com.docker.stack.namespace': 'st' });
  t.equal(web.TaskTemplate.Runtime, 'oci');
  t.same(web.EndpointSpec, {
    Mode: 'dnsrr',
    Ports: [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
      { Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'ingress' },
      { Protocol: 'tcp', TargetPort: 443, PublishedPort: 8443, PublishMode: 'host' },
    ],
  });
  t.same(web.Networks, [{ Target: 'st_front', Aliases: ['web', 'www'] }]);
  t.same(c.Mounts, [
    { Type: 'volume', Source: 'st_data', Target: '/data' },
    { Type: 'bind', Source: path.join(dir, 'site'), Target: '/www', ReadOnly: true },
    { Type: 'tmpfs', Target: '/tmp' },
  ]);
  t.same(c.Secrets, [
    { SecretID: '', SecretName: 'st_token', File: { Name: 'token', UID: '0', GID: '0', Mode: 0o444 } },
    { SecretID: '', SecretName: 'st_token', File: { Name: 'tk', UID: '1', GID: '2', Mode: 0o400 } },
  ]);
  t.same(c.Configs, [{ ConfigID: '', ConfigName: 'st_conf', File: { Name: '/etc/app.conf', UID: '0', GID: '0', Mode: 0o444 } }]);
  t.same(c.HealthCheck, { Test: ['CMD-SHELL', 'wget -q -O- localhost:8080'], Interval: 5e9, Timeout: 2e9, Retries: 3, StartPeriod: 10e9, StartInterval: 1e9 });
  t.same(web.Mode, { Replicated: { Replicas: 3 } });
  t.same(web.TaskTemplate.Placement, { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 2 });
  t.same(web.TaskTemplate.Resources, { Limits: { NanoCPUs: 0.5e9, MemoryBytes: 64 * 2 ** 20, Pids: 100 }, Reservations: { NanoCPUs: 0.25e9, MemoryBytes: 32 * 2 ** 20 } });
  t.same(web.TaskTemplate.RestartPolicy, { Condition: 'on-failure', Delay: 2e9, MaxAttempts: 3, Window: 30e9 });
  t.same(web.UpdateConfig, { Parallelism: 2, Delay: 1e9, FailureAction: 'rollback', Monitor: 5e9, MaxFailureRatio: 0.5, Order: 'start-first' });
  t.same(web.RollbackConfig, { Parallelism: 1, Order: 'stop-first' });
  const db = p.services[1]!;
  t.same(db.dependsOn, [{ key: 'web', healthy: true }]);
  t.same(db.spec.TaskTemplate.ContainerSpec!.Env, ['C=3', 'FROM_ENV=yes'], 'a key with no value comes from the environment');
  t.same(db.spec.Networks, [{ Target: 'st_default', Aliases: ['db'] }], 'no networks: the default one');
  t.same(
    p.networks.map((n) => n.body),
    [
      { Name: 'st_front', Driver: 'overlay', Attachable: true, Labels: { 'com.docker.stack.namespace': 'st' }, IPAM: { Config: [{ Subnet: '10.99.0.0/24' }] } },
      { Name: 'st_default', Driver: 'overlay', Labels: { 'com.docker.stack.namespace': 'st' } },
    ],
  );
  t.same(p.secrets.map((s) => [s.name, s.data!.toString()]), [['st_token', 's3cret']]);
  t.same(p.configs.map((s) => [s.name, s.data!.toString()]), [['st_conf', 'x=1']]);
  t.same(p.ignored, []);
});

t.test('modes, external objects, and what a swarm ignores', async (t) => {
  const p = plan(`
services:
  agent: {image: a, deploy: {mode: global}, networks: [ext], secrets: [shared], build: ., privileged: true}
  batch: {image: b, deploy: {mode: replicated-job, replicas: 4}, healthcheck: {disable: true}}
networks:
  ext: {external: true, name: outside}
secrets:
  shared: {external: true}
`);
  t.same(p.services.map((s) => s.spec.Mode), [{ Global: {} }, { ReplicatedJob: { MaxConcurrent: 4, TotalCompletions: 4 } }]);
  t.same(p.services[0]!.spec.Networks, [{ Target: 'outside', Aliases: ['agent'] }]);
  t.same(p.networks.map((n) => [n.name, n.external]), [['outside', true], ['st_default', false]]);
  t.same(p.secrets.map((s) => [s.name, s.external]), [['shared', true]]);
  t.same(p.services[1]!.spec.TaskTemplate.ContainerSpec!.HealthCheck, { Test: ['NONE'] });
  t.same(p.ignored, ['services.agent.build', 'services.agent.privileged'], "named in docker's warning");
});

t.test('interpolation: ${VAR}, defaults, required, $$, and .env beside the file', async (t) => {
  writeFileSync(path.join(dir, '.env'), '# comment\nTAG=1.36\nexport PORT="8081"\n');
  const p = plan(`
services:
  web:
    image: busybox:\${TAG}
    command: ["echo", "\${MISSING:-fallback}", "\${EMPTY-kept}", "$$HOME", "$USER_X"]
    ports: ["\${PORT}:80"]
`, { EMPTY: '', USER_X: 'me' });
  const c = p.services[0]!.spec.TaskTemplate.ContainerSpec!;
  t.equal(c.Image, 'busybox:1.36', 'from .env');
  t.same(c.Args, ['echo', 'fallback', '', '$HOME', 'me'], ':- default, - keeps a set-but-empty value, $$ escapes');
  t.equal(p.services[0]!.spec.EndpointSpec!.Ports![0]!.PublishedPort, 8081);
  const q = plan('services: {web: {image: "x:${TAG}"}}', { TAG: 'from-shell' });
  t.equal(q.services[0]!.spec.TaskTemplate.ContainerSpec!.Image, 'x:from-shell', 'the shell wins over .env');
  rmSync(path.join(dir, '.env'));
});

t.test('merging several files: maps key by key, the later file wins', async (t) => {
  const a = file('services:\n  web:\n    image: a\n    environment: {A: "1"}\n    deploy: {replicas: 2}\n');
  const b = file('services:\n  web:\n    image: b\n    environment: {B: "2"}\n');
  const p = planStack('st', readCompose([a, b], {}), {});
  const s = p.services[0]!.spec;
  t.equal(s.TaskTemplate.ContainerSpec!.Image, 'b');
  t.same(s.TaskTemplate.ContainerSpec!.Env, ['A=1', 'B=2']);
  t.same(s.Mode, { Replicated: { Replicas: 2 } });
});

t.test('broken files: one line naming the file, line, key and what is wrong', async (t) => {
  const cases: [string, string, NodeJS.ProcessEnv?][] = [
    ['services:\n  web:\n    image: x\n   bad', /invalid YAML/.source],
    ['', 'the file is empty'],
    ['- a\n- b\n', 'the top level must be a map'],
    ['servics:\n  web: {image: x}\n', String.raw`:1: servics: is not a Compose key \(allowed: configs, name, networks, secrets, services, version, volumes\)`],
    ['services: {}\n', ':1: services: the file defines no service'],
    ['services:\n  web:\n    imag: x\n', String.raw`:3: services.web.imag: is not a Compose key of services.web`],
    ['services:\n  web:\n    command: x\n', ':2: services.web: needs image:'],
    ['services:\n  web:\n    build: .\n', ':2: services.web: needs image: a stack deploys images, it does not build them'],
    ['services:\n  web:\n    image: x\n    deploy:\n      replicas: lots\n', ':5: services.web.deploy.replicas: must be a whole number ≥ 0, got "lots"'],
    ['services:\n  web:\n    image: x\n    deploy: {mode: global, replicas: 2}\n', 'services.web.deploy.replicas: a global service runs one task per node'],
    ['services:\n  web:\n    image: x\n    deploy: {mode: daemon}\n', 'services.web.deploy.mode: must be replicated, global, replicated-job or global-job, got "daemon"'],
    ['services:\n  web:\n    image: x\n    ports: ["127.0.0.1:80:80"]\n', ':4: services.web.ports\\[0\\]: a host IP in a published port is not supported'],
    ['services:\n  web:\n    image: x\n    ports: ["eighty"]\n', 'services.web.ports\\[0\\]: must be \\[PUBLISHED:\\]TARGET\\[/PROTOCOL\\]'],
    ['services:\n  web:\n    image: x\n    ports: ["8080-8081:80"]\n', 'services.web.ports\\[0\\]: must be \\[PUBLISHED:\\]TARGET\\[/PROTOCOL\\]'],
    ['services:\n  web:\n    image: x\n    ports: ["70000:80"]\n', 'services.web.ports\\[0\\]: must be a port, 1-65535, got 70000'],
    ['services:\n  web:\n    image: x\n    networks: [back]\n', ':4: services.web.networks\\[0\\]: network "back" is not defined under the top-level networks:'],
    ['services:\n  web:\n    image: x\n    secrets: [pw]\n', 'services.web.secrets\\[0\\]: secret "pw" is not defined under the top-level secrets:'],
    ['services:\n  web:\n    image: x\n    volumes: ["data:/data"]\n', 'services.web.volumes\\[0\\]: volume "data" is not defined under the top-level volumes:'],
    ['services:\n  web:\n    image: x\n    volumes: ["./x:rel"]\n', 'services.web.volumes\\[0\\]: the target must be an absolute path'],
    ['services:\n  web:\n    image: x\n    healthcheck: {test: [RUN, x]}\n', 'services.web.healthcheck.test: a list must start with CMD, CMD-SHELL or NONE, got "RUN"'],
    ['services:\n  web:\n    image: x\n    healthcheck: {interval: soon}\n', 'services.web.healthcheck.interval: invalid duration "soon"'],
    ['services:\n  web:\n    image: x\n    deploy: {resources: {limits: {memory: lots}}}\n', 'services.web.deploy.resources.limits.memory:'],
    ['services:\n  web:\n    image: x\n    deploy: {update_config: {order: sideways}}\n', 'services.web.deploy.update_config.order: must be stop-first or start-first, got "sideways"'],
    ['services:\n  web:\n    image: x\n    deploy: {restart_policy: {condition: always}}\n', 'services.web.deploy.restart_policy.condition: must be none, on-failure or any, got "always"'],
    ['services:\n  web:\n    image: x\n    deploy: {placement: {constraints: [role=worker]}}\n', 'services.web.deploy.placement.constraints\\[0\\]: must be KEY==VALUE or KEY!=VALUE'],
    ['services:\n  web:\n    image: x\n    depends_on: [db]\n', 'services.web.depends_on\\[0\\]: service "db" is not defined in this file'],
    ['services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n', 'services.a.depends_on: a dependency cycle: a → b → a'],
    ['services:\n  web:\n    image: x\n    depends_on: {db: {condition: service_completed_successfully}}\n  db: {image: y}\n', 'services.web.depends_on.db.condition: must be service_started or service_healthy'],
    ['services:\n  web:\n    image: x\n    runtime: runc\n', 'services.web.runtime: must be process, oci or docker'],
    ['services:\n  web:\n    image: "${TAG:?set TAG to the release}"\n', ':3: services.web.image: required variable TAG is missing a value: set TAG to the release'],
    ['services:\n  web:\n    image: "${TAG"\n', 'invalid interpolation format|invalid YAML'],
    ['services:\n  web:\n    image: x\n    image: y\n', 'services.web.image: is given twice'],
    ['services:\n  web: {image: x}\nnetworks:\n  n: {driver: bridge}\n', ':4: networks.n.driver: a stack\'s networks are overlay networks, got "bridge"'],
    ['services:\n  web: {image: x}\nsecrets:\n  s: {}\n', ':4: secrets.s: needs file: PATH \\(or external: true\\)'],
    ['services:\n  web: {image: x}\nsecrets:\n  s: {file: ./nope.txt}\n', 'secrets.s.file: cannot read .*nope.txt: no such file'],
  ];
  for (const [text, want, env] of cases) {
    const got = error(text, env);
    t.match(got, new RegExp(want), `${JSON.stringify(text.slice(0, 60))} → ${got}`);
    t.notMatch(got, /\n/, 'one line');
  }
  t.match(error('services:\n  web: {image: x}\n'.replace('x', 'x')), /^no error$/);
  t.throws(() => planStack('bad name!', readCompose([file('services: {web: {image: x}}')], {}), {}), /stack name "bad name!" is invalid/);
});
