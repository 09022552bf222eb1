import t from 'tap';
import type { Service } from '../../src/model/index.js';
import { spec, startApi } from './helpers.js';

const enc = (f: unknown) => encodeURIComponent(JSON.stringify(f));

t.test('POST /services/create: 201 {ID, Warnings}, stored with defaults', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const r = await api.req('POST', '/v1.47/services/create', spec('web', 3), { headers: { 'X-Registry-Auth': 'e30=' } });
  t.equal(r.status, 201);
  t.match(r.body, { ID: /^[0-9a-z]{25}$/ });
  t.same(r.body.Warnings, []);
  const s = api.ctx.store.get('service', r.body.ID)!;
  t.equal(s.Spec.Name, 'web');
  t.same(s.Spec.Mode, { Replicated: { Replicas: 3 } });
  t.equal(s.PreviousSpec, undefined);

  // A bare spec: Mode defaults to 1 replica, update/rollback configs to Docker's defaults.
  const bare = await api.req('POST', '/services/create', { Name: 'bare', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } });
  t.equal(bare.status, 201);
  const b = api.ctx.store.get('service', bare.body.ID)!;
  t.same(b.Spec.Mode, { Replicated: { Replicas: 1 } });
  t.same(b.Spec.UpdateConfig, { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, MaxFailureRatio: 0, Order: 'stop-first' });
  t.same(b.Spec.RollbackConfig, b.Spec.UpdateConfig);
  t.same(b.Spec.Labels, {});

  const nameless = await api.req('POST', '/services/create', { TaskTemplate: { ContainerSpec: { Image: 'busybox' } } });
  t.equal(nameless.status, 201);
  t.match(api.ctx.store.get('service', nameless.body.ID)!.Spec.Name, /^[a-z]+_[a-z]+\d*$/, 'a generated name');

  const dup = await api.req('POST', '/services/create', spec('web'));
  t.equal(dup.status, 409);
  t.match(dup.body.message, /web already exists/);

  const proc = await api.req('POST', '/services/create', { Name: 'proc', TaskTemplate: { Runtime: 'process', ContainerSpec: { Command: ['node', 'server.js'] } } });
  t.equal(proc.status, 201, 'the process runtime needs no image');

  const jobs = await api.req('POST', '/services/create', spec('job', 1, { Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 6 } } }));
  t.equal(jobs.status, 201);
  t.same(api.ctx.store.get('service', jobs.body.ID)!.Spec.Mode, { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 6 } });
  const global = await api.req('POST', '/services/create', spec('agent', 1, { Mode: { Global: {} } }));
  t.equal(global.status, 201);
});

t.test('validation: 400 naming the field', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const tt = (extra: Record<string, unknown>) => ({ ...(spec('web').TaskTemplate as Record<string, unknown>), ...extra });
  const cs = (extra: Record<string, unknown>) => tt({ ContainerSpec: { Image: 'busybox', ...extra } });
  const cases: [string, unknown, RegExp][] = [
    ['bad name', spec('web server'), /^Spec\.Name: must be valid as a DNS name component$/],
    ['name with a dot', spec('web.1'), /^Spec\.Name: must be valid as a DNS name component$/],
    ['long name', spec('a'.repeat(64)), /^Spec\.Name: .* is too long \(maximum is 63 characters\)$/],
    ['name not a string', spec('x', 1, { Name: 7 }), /^Spec\.Name: must be a string, not 7$/],
    ['negative memory reservation', spec('web', 1, { TaskTemplate: tt({ Resources: { Reservations: { MemoryBytes: -1 } } }) }), /^Spec\.TaskTemplate\.Resources\.Reservations\.MemoryBytes: must be >= 0$/],
    ['tiny memory limit', spec('web', 1, { TaskTemplate: tt({ Resources: { Limits: { MemoryBytes: 1000 } } }) }), /^Spec\.TaskTemplate\.Resources\.Limits\.MemoryBytes: 1000 is too small: must be at least 4MiB$/],
    ['fractional cpus', spec('web', 1, { TaskTemplate: tt({ Resources: { Limits: { NanoCPUs: 0.5 } } }) }), /^Spec\.TaskTemplate\.Resources\.Limits\.NanoCPUs: must be an integer/],
    ['unknown constraint key', spec('web', 1, { TaskTemplate: tt({ Placement: { Constraints: ['node.role==manager', 'node.colour==red'] } }) }), /^Spec\.TaskTemplate\.Placement\.Constraints\[1\]: invalid constraint "node\.colour==red": unknown key/],
    ['constraint without operator', spec('web', 1, { TaskTemplate: tt({ Placement: { Constraints: ['node.role=manager'] } }) }), /^Spec\.TaskTemplate\.Placement\.Constraints\[0\]: invalid constraint "node\.role=manager": expected <key>==<value>/],
    ['constraint bad role', spec('web', 1, { TaskTemplate: tt({ Placement: { Constraints: ['node.role==boss'] } }) }), /^Spec\.TaskTemplate\.Placement\.Constraints\[0\]: .*manager or worker/],
    ['constraint bad value', spec('web', 1, { TaskTemplate: tt({ Placement: { Constraints: ['node.labels.zone==a>b'] } }) }), /^Spec\.TaskTemplate\.Placement\.Constraints\[0\]: .*not allowed/],
    ['spread without descriptor', spec('web', 1, { TaskTemplate: tt({ Placement: { Preferences: [{ Spread: {} }] } }) }), /^Spec\.TaskTemplate\.Placement\.Preferences\[0\]\.Spread\.SpreadDescriptor: must be provided/],
    ['negative replicas', spec('web', -1), /^Spec\.Mode\.Replicated\.Replicas: must be >= 0$/],
    ['two modes', spec('web', 1, { Mode: { Replicated: { Replicas: 1 }, Global: {} } }), /^Spec\.Mode: exactly one of Replicated, Global, ReplicatedJob, GlobalJob may be set, not Replicated and Global$/],
    ['unknown mode', spec('web', 1, { Mode: { Sometimes: {} } }), /^Spec\.Mode\.Sometimes: unknown service mode/],
    ['restart condition', spec('web', 1, { TaskTemplate: tt({ RestartPolicy: { Condition: 'sometimes' } }) }), /^Spec\.TaskTemplate\.RestartPolicy\.Condition: must be one of "none", "on-failure", "any", not "sometimes"$/],
    ['negative restart delay', spec('web', 1, { TaskTemplate: tt({ RestartPolicy: { Delay: -5 } }) }), /^Spec\.TaskTemplate\.RestartPolicy\.Delay: must be >= 0$/],
    ['no image', spec('web', 1, { TaskTemplate: tt({ ContainerSpec: { Args: ['x'] } }) }), /^Spec\.TaskTemplate\.ContainerSpec\.Image: an image reference must be provided$/],
    ['no container spec', spec('web', 1, { TaskTemplate: {} }), /^Spec\.TaskTemplate\.ContainerSpec: must be provided$/],
    ['unknown secret', spec('web', 1, { TaskTemplate: cs({ Secrets: [{ SecretID: 's1', SecretName: 'db', File: { Name: 'db', UID: '0', GID: '0', Mode: 292 } }] }) }), /^Spec\.TaskTemplate\.ContainerSpec\.Secrets\[0\]: secret db not found$/],
    ['unknown config', spec('web', 1, { TaskTemplate: cs({ Configs: [{ ConfigID: 'c1', ConfigName: 'conf' }] }) }), /^Spec\.TaskTemplate\.ContainerSpec\.Configs\[0\]: config conf not found$/],
    ['no task template', { Name: 'web' }, /^Spec\.TaskTemplate: must be provided$/],
    ['args not strings', spec('web', 1, { TaskTemplate: cs({ Args: ['sleep', 5] }) }), /^Spec\.TaskTemplate\.ContainerSpec\.Args\[1\]: must be a string, not 5$/],
    ['env without name', spec('web', 1, { TaskTemplate: cs({ Env: ['=x'] }) }), /^Spec\.TaskTemplate\.ContainerSpec\.Env\[0\]: "=x" must be NAME=value$/],
    ['negative grace period', spec('web', 1, { TaskTemplate: cs({ StopGracePeriod: -1 }) }), /^Spec\.TaskTemplate\.ContainerSpec\.StopGracePeriod: must be >= 0$/],
    ['health interval too small', spec('web', 1, { TaskTemplate: cs({ HealthCheck: { Test: ['CMD', 'true'], Interval: 10 } }) }), /^Spec\.TaskTemplate\.ContainerSpec\.HealthCheck\.Interval: must be at least 1ms$/],
    ['health test kind', spec('web', 1, { TaskTemplate: cs({ HealthCheck: { Test: ['RUN', 'true'] } }) }), /^Spec\.TaskTemplate\.ContainerSpec\.HealthCheck\.Test: must start with/],
    ['bind mount relative', spec('web', 1, { TaskTemplate: cs({ Mounts: [{ Type: 'bind', Source: 'data', Target: '/data' }] }) }), /^Spec\.TaskTemplate\.ContainerSpec\.Mounts\[0\]\.Source: a bind mount needs an absolute source path$/],
    ['mount type', spec('web', 1, { TaskTemplate: cs({ Mounts: [{ Type: 'nfs', Target: '/data' }] }) }), /^Spec\.TaskTemplate\.ContainerSpec\.Mounts\[0\]\.Type: must be one of/],
    ['runtime', spec('web', 1, { TaskTemplate: tt({ Runtime: 'vm' }) }), /^Spec\.TaskTemplate\.Runtime: unknown runtime "vm"/],
    ['labels', spec('web', 1, { Labels: { a: 1 } }), /^Spec\.Labels\.a: must be a string, not 1$/],
    ['update failure action', spec('web', 1, { UpdateConfig: { FailureAction: 'panic' } }), /^Spec\.UpdateConfig\.FailureAction: must be one of "continue", "pause", "rollback", not "panic"$/],
    ['rollback of rollback', spec('web', 1, { RollbackConfig: { FailureAction: 'rollback' } }), /^Spec\.RollbackConfig\.FailureAction: must be one of "continue", "pause"/],
    ['failure ratio', spec('web', 1, { UpdateConfig: { MaxFailureRatio: 2 } }), /^Spec\.UpdateConfig\.MaxFailureRatio: must be between 0 and 1$/],
    ['update order', spec('web', 1, { UpdateConfig: { Order: 'random' } }), /^Spec\.UpdateConfig\.Order: must be one of "stop-first", "start-first"/],
    ['target port 0', spec('web', 1, { EndpointSpec: { Ports: [{ TargetPort: 0, PublishedPort: 80 }] } }), /^Spec\.EndpointSpec\.Ports\[0\]\.TargetPort: must be >= 1$/],
    ['port too big', spec('web', 1, { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 70000 }] } }), /^Spec\.EndpointSpec\.Ports\[0\]\.PublishedPort: must be <= 65535$/],
    ['duplicate published', spec('web', 1, { EndpointSpec: { Ports: [{ TargetPort: 80, PublishedPort: 8080 }, { TargetPort: 81, PublishedPort: 8080 }] } }), /^Spec\.EndpointSpec\.Ports\[1\]\.PublishedPort: duplicate published port 8080\/tcp$/],
    ['dnsrr with ingress port', spec('web', 1, { EndpointSpec: { Mode: 'dnsrr', Ports: [{ TargetPort: 80, PublishedPort: 8080 }] } }), /^Spec\.EndpointSpec\.Ports\[0\]\.PublishMode: .*dnsrr/],
    ['protocol', spec('web', 1, { EndpointSpec: { Ports: [{ TargetPort: 80, Protocol: 'icmp' }] } }), /^Spec\.EndpointSpec\.Ports\[0\]\.Protocol: must be one of/],
    ['network target', spec('web', 1, { Networks: [{ Aliases: ['x'] }] }), /^Spec\.Networks\[0\]\.Target: must name a network$/],
    ['body is a list', [spec('web')], /^Spec: must be an object, not a list$/],
    ['empty body', undefined, /^Spec: request body must be a ServiceSpec object$/],
  ];
  for (const [what, body, re] of cases) {
    const r = await api.req('POST', '/services/create', body);
    t.equal(r.status, 400, `${what}: status`);
    t.match(r.body?.message, re, `${what}: message`);
  }
  t.equal(api.ctx.store.count('service'), 0, 'nothing was created');
  t.equal(api.ctx.calls.commits, 0, 'nothing was proposed');

  // Accepted: everything a full CLI spec carries.
  const full = spec('full', 2, {
    Labels: { team: 'a' },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'busybox:1.36',
        Command: ['sh', '-c'],
        Args: ['sleep 1000'],
        Env: ['A=1', 'B'],
        Dir: '/tmp',
        User: 'nobody',
        StopGracePeriod: 3e9,
        HealthCheck: { Test: ['CMD-SHELL', 'true'], Interval: 1e9, Timeout: 5e8, Retries: 3 },
        Mounts: [{ Type: 'tmpfs', Target: '/scratch' }, { Type: 'bind', Source: '/srv', Target: '/srv', ReadOnly: true }],
        Isolation: 'default',
        DNSConfig: {},
      },
      Resources: { Limits: { NanoCPUs: 5e8, MemoryBytes: 128 * 2 ** 20, Pids: 100 }, Reservations: { NanoCPUs: 25e7, MemoryBytes: 64 * 2 ** 20 } },
      RestartPolicy: { Condition: 'on-failure', Delay: 1e9, MaxAttempts: 3, Window: 6e10 },
      Placement: { Constraints: ['node.labels.zone != b', 'node.platform.os==linux', 'engine.labels.Kernel==new'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }], MaxReplicas: 2 },
      Runtime: 'container',
      ForceUpdate: 0,
    },
    UpdateConfig: { Parallelism: 2, Delay: 1e9, FailureAction: 'rollback', Monitor: 1e9, MaxFailureRatio: 0.5, Order: 'start-first' },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }, { TargetPort: 53, Protocol: 'udp', PublishMode: 'host', PublishedPort: 53 }] },
  });
  const ok = await api.req('POST', '/services/create', full);
  t.equal(ok.status, 201, ok.body?.message);
  const stored = api.ctx.store.get('service', ok.body.ID)!;
  t.equal(stored.Spec.TaskTemplate.ContainerSpec!.Isolation, 'default', 'unknown fields are kept verbatim');
  const again = await api.req('POST', '/services/create', spec('other', 1, { EndpointSpec: { Ports: [{ TargetPort: 81, PublishedPort: 8080 }] } }));
  t.equal(again.status, 400);
  t.match(again.body.message, /^Spec\.EndpointSpec\.Ports\[0\]\.PublishedPort: port 8080\/tcp is already published by service full$/);
  const hostPort = await api.req('POST', '/services/create', spec('other', 1, { EndpointSpec: { Ports: [{ TargetPort: 53, PublishedPort: 53, Protocol: 'udp', PublishMode: 'host' }] } }));
  t.equal(hostPort.status, 201, 'host-mode ports are per node, not cluster-wide');
});

t.test('GET /services: list, ?status=true counts, filters', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const web = (await api.req('POST', '/services/create', spec('web', 3, { Labels: { tier: 'front' } }))).body.ID;
  const api2 = (await api.req('POST', '/services/create', spec('api', 2, { Labels: { tier: 'back' } }))).body.ID;
  const agent = (await api.req('POST', '/services/create', spec('agent', 1, { Mode: { Global: {} } }))).body.ID;
  const node = api.ctx.selfId;
  api.ctx.addTask(web, 1, { state: 'running', nodeId: node });
  api.ctx.addTask(web, 2, { state: 'running', nodeId: node });
  api.ctx.addTask(web, 3, { state: 'pending' });
  api.ctx.addTask(web, 3, { state: 'failed', desired: 'shutdown', nodeId: node });
  api.ctx.addTask(agent, 0, { state: 'running', nodeId: node });
  const w2 = api.ctx.addNode({ hostname: 'w2' });
  api.ctx.addTask(agent, 0, { state: 'starting', nodeId: w2 });

  const plain = await api.req('GET', '/services');
  t.equal(plain.status, 200);
  t.equal(plain.body.length, 3);
  t.notOk('ServiceStatus' in plain.body[0], 'no status unless asked');
  t.match(plain.body.find((s: { ID: string }) => s.ID === web), { Spec: { Name: 'web' }, Endpoint: { Spec: { Mode: 'vip' } }, Version: { Index: Number } });

  const st = await api.req('GET', '/v1.47/services?status=true');
  const by = (id: string) => st.body.find((s: { ID: string }) => s.ID === id).ServiceStatus;
  t.same(by(web), { RunningTasks: 2, DesiredTasks: 3, CompletedTasks: 0 });
  t.same(by(api2), { RunningTasks: 0, DesiredTasks: 2, CompletedTasks: 0 });
  t.same(by(agent), { RunningTasks: 1, DesiredTasks: 2, CompletedTasks: 0 }, 'global: desired = tasks desired running');

  const names = async (f: unknown) => {
    const r = await api.req('GET', `/services?filters=${enc(f)}`);
    t.equal(r.status, 200, JSON.stringify(f));
    return r.body.map((s: { Spec: { Name: string } }) => s.Spec.Name).sort();
  };
  t.same(await names({ name: { web: true } }), ['web']);
  t.same(await names({ name: ['a'] }), ['agent', 'api'], 'name prefix, list encoding');
  t.same(await names({ id: [web.slice(0, 6)] }), ['web'], 'id prefix');
  t.same(await names({ id: { [web]: true, [api2]: true } }), ['api', 'web']);
  t.same(await names({ label: ['tier'] }), ['api', 'web']);
  t.same(await names({ label: { 'tier=front': true } }), ['web']);
  t.same(await names({ mode: ['global'] }), ['agent']);
  t.same(await names({ mode: { replicated: true } }), ['api', 'web']);
  t.same(await names({ mode: ['replicated'], label: ['tier=back'] }), ['api']);
  t.same(await names({ runtime: ['container'] }), ['agent', 'api', 'web']);
  const bad = await api.req('GET', `/services?filters=${enc({ mode: ['sometimes'] })}`);
  t.equal(bad.status, 400);
  t.match(bad.body.message, /^filters: invalid mode filter value "sometimes"/);
  const badKey = await api.req('GET', `/services?filters=${enc({ node: ['x'] })}`);
  t.equal(badKey.status, 400);
  t.match(badKey.body.message, /^filters: invalid filter 'node'/);
});

t.test('GET /services/{id}: by ID, name, prefix; insertDefaults; 404', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const id = (await api.req('POST', '/services/create', spec('web', 2))).body.ID;
  for (const ref of [id, 'web', id.slice(0, 5)]) t.equal((await api.req('GET', `/services/${ref}`)).body.ID, id, ref);
  const plain = (await api.req('GET', '/services/web?insertDefaults=false')).body;
  t.equal(plain.Spec.TaskTemplate.RestartPolicy, undefined, 'stored spec as sent');
  const d = (await api.req('GET', '/services/web?insertDefaults=true')).body;
  t.match(d.Spec, {
    TaskTemplate: { ContainerSpec: { Image: 'busybox', StopGracePeriod: 10e9 }, RestartPolicy: { Condition: 'any', Delay: 5e9, MaxAttempts: 0 } },
    UpdateConfig: { Parallelism: 1, FailureAction: 'pause', Monitor: 5e9, Order: 'stop-first' },
    RollbackConfig: { Monitor: 5e9 },
    EndpointSpec: { Mode: 'vip' },
  });
  const nf = await api.req('GET', '/services/nope');
  t.equal(nf.status, 404);
  t.equal(nf.body.message, 'service nope not found');
  t.equal((await api.req('GET', '/services/web/logs?stdout=1')).status, 501);
  t.equal((await api.req('GET', '/services/nope/logs')).status, 404);
});

t.test('POST /services/{id}/update: PreviousSpec, ?version=, rollback=previous', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const id = (await api.req('POST', '/services/create', spec('web', 2))).body.ID;
  const v1 = api.ctx.store.get('service', id)!;

  const up = await api.req('POST', `/v1.47/services/${id}/update?version=${v1.Version.Index}&registryAuthFrom=spec`, spec('web', 5));
  t.equal(up.status, 200);
  t.same(up.body, { Warnings: [] });
  const v2 = api.ctx.store.get('service', id)!;
  t.equal(v2.Spec.Mode.Replicated?.Replicas, 5);
  t.equal(v2.PreviousSpec?.Mode.Replicated?.Replicas, 2, 'PreviousSpec = the old spec');
  t.equal(v2.CreatedAt, v1.CreatedAt);
  t.not(v2.UpdatedAt, v1.UpdatedAt);
  t.ok(v2.Version.Index > v1.Version.Index);

  const stale = await api.req('POST', `/services/${id}/update?version=${v1.Version.Index}`, spec('web', 7));
  t.equal(stale.status, 409);
  t.match(stale.body.message, /^update out of sequence/);
  t.equal(api.ctx.store.get('service', id)!.Spec.Mode.Replicated?.Replicas, 5);

  const noVersion = await api.req('POST', `/services/${id}/update`, spec('web', 7));
  t.equal(noVersion.status, 400);
  t.match(noVersion.body.message, /^version: invalid service version ""/);

  const rename = await api.req('POST', `/services/${id}/update?version=${v2.Version.Index}`, spec('www', 5));
  t.equal(rename.status, 400);
  t.match(rename.body.message, /^Spec\.Name: renaming services is not supported$/);
  const mode = await api.req('POST', `/services/${id}/update?version=${v2.Version.Index}`, spec('web', 1, { Mode: { Global: {} } }));
  t.equal(mode.status, 400);
  t.match(mode.body.message, /^Spec\.Mode: changing a service's mode \(Replicated to Global\)/);
  const invalid = await api.req('POST', `/services/${id}/update?version=${v2.Version.Index}`, spec('web', -3));
  t.equal(invalid.status, 400);
  t.match(invalid.body.message, /^Spec\.Mode\.Replicated\.Replicas: must be >= 0$/);
  const badRollback = await api.req('POST', `/services/${id}/update?version=${v2.Version.Index}&rollback=yes`, spec('web', 5));
  t.equal(badRollback.status, 400);
  t.match(badRollback.body.message, /^rollback: /);

  // Rollback swaps Spec and PreviousSpec; the body is not used.
  const completed: Service = { ...v2, UpdateStatus: { State: 'completed' } };
  api.ctx.mustApply([{ op: 'update', kind: 'service', object: completed }]);
  const v3 = api.ctx.store.get('service', id)!;
  const rb = await api.req('POST', `/services/${id}/update?version=${v3.Version.Index}&rollback=previous`, spec('web', 99));
  t.equal(rb.status, 200);
  const v4 = api.ctx.store.get('service', id)!;
  t.equal(v4.Spec.Mode.Replicated?.Replicas, 2);
  t.equal(v4.PreviousSpec?.Mode.Replicated?.Replicas, 5);
  t.match(v4.UpdateStatus, { State: 'rollback_started', Message: 'manually requested rollback', StartedAt: String });

  // A plain update clears the update status the orchestrator will rewrite.
  const up2 = await api.req('POST', `/services/web/update?version=${v4.Version.Index}`, spec('web', 4));
  t.equal(up2.status, 200);
  t.equal(api.ctx.store.get('service', id)!.UpdateStatus, undefined);

  const fresh = (await api.req('POST', '/services/create', spec('fresh'))).body.ID;
  const fv = api.ctx.store.get('service', fresh)!.Version.Index;
  const none = await api.req('POST', `/services/${fresh}/update?version=${fv}&rollback=previous`, spec('fresh'));
  t.equal(none.status, 400);
  t.match(none.body.message, /does not have a previous spec/);
  t.equal((await api.req('POST', '/services/nope/update?version=1', spec('nope'))).status, 404);
});

t.test('DELETE /services/{id}: the service object only; 404 after', async (t) => {
  const api = await startApi();
  t.teardown(api.close);
  const id = (await api.req('POST', '/services/create', spec('web', 2))).body.ID;
  const task = api.ctx.addTask(id, 1, { state: 'running', nodeId: api.ctx.selfId });
  const r = await api.req('DELETE', '/v1.47/services/web');
  t.equal(r.status, 200);
  t.equal(api.ctx.store.get('service', id), undefined);
  t.ok(api.ctx.store.get('task', task), 'tasks are left for the orchestrator to shut down');
  t.equal((await api.req('GET', `/services/${id}`)).status, 404);
  const again = await api.req('DELETE', '/services/web');
  t.equal(again.status, 404);
  t.equal(again.body.message, 'service web not found');
  t.equal((await api.req('POST', '/services/create', spec('web'))).status, 201, 'the name is free again');
});
