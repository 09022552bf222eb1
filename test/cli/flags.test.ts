import t from 'tap';
import {
  createSpec,
  parseConstraint,
  parseEnv,
  parseLabel,
  parseMount,
  parsePlacementPref,
  parsePublish,
  splitWords,
  updateSpec,
  type CreateFlags,
} from '../../src/cli/commands/service-create-flags.js';
import { CliError } from '../../src/cli/errors.js';

t.test('--mount', async (t) => {
  t.same(parseMount('type=bind,source=/srv,target=/data'), { Type: 'bind', Source: '/srv', Target: '/data' });
  t.same(parseMount('type=bind,src=/srv,dst=/data,readonly'), { Type: 'bind', Source: '/srv', Target: '/data', ReadOnly: true });
  t.same(parseMount('type=bind,source=/a,target=/b,ro=false'), { Type: 'bind', Source: '/a', Target: '/b', ReadOnly: false });
  t.same(parseMount('type=tmpfs,target=/tmp,tmpfs-size=64M'), { Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024 } });
  t.same(parseMount('source=vol,target=/v'), { Type: 'volume', Source: 'vol', Target: '/v' }, 'volume by default, as docker');
  t.throws(() => parseMount('type=bind,source=/a'), /has no target/);
  t.throws(() => parseMount('type=bind,target=/a'), /has no source/);
  t.throws(() => parseMount('type=nfs,target=/a'), /mount type "nfs" is not supported/);
  t.throws(() => parseMount('type=bind,source=/a,target=/b,colour=red'), /unknown mount option "colour"/);
  t.throws(() => parseMount('type=bind,source=/a,target=/b,readonly=maybe'), /must be true or false/);
});

t.test('--publish', async (t) => {
  t.same(parsePublish('8080:80'), { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' });
  t.same(parsePublish('53:53/udp'), { Protocol: 'udp', TargetPort: 53, PublishedPort: 53, PublishMode: 'ingress' });
  t.same(parsePublish('80'), { Protocol: 'tcp', TargetPort: 80, PublishMode: 'ingress' });
  t.same(parsePublish('published=8080,target=80,mode=host,protocol=udp'), { Protocol: 'udp', PublishMode: 'host', PublishedPort: 8080, TargetPort: 80 });
  t.throws(() => parsePublish('8080:99999'), /must be a port number/);
  t.throws(() => parsePublish('80:80/icmp'), /protocol must be tcp, udp or sctp/);
  t.throws(() => parsePublish('a:b'), /is not PUBLISHED:TARGET/);
  t.throws(() => parsePublish('published=80'), /no target port/);
  t.throws(() => parsePublish('target=80,mode=vip'), /publish mode must be ingress or host/);
});

t.test('constraints, placement preferences, labels, env', async (t) => {
  t.equal(parseConstraint('node.role==worker'), 'node.role==worker');
  t.equal(parseConstraint(' node.labels.zone != a '), 'node.labels.zone != a');
  t.throws(() => parseConstraint('node.role=worker'), /invalid constraint "node.role=worker": expected <key>==<value> or <key>!=<value>/);
  t.throws(() => parseConstraint('==x'), CliError);
  t.same(parsePlacementPref('spread=node.labels.zone'), { Spread: { SpreadDescriptor: 'node.labels.zone' } });
  t.throws(() => parsePlacementPref('binpack=x'), /must be spread=DESCRIPTOR/);
  t.same(parseLabel('a=b=c'), ['a', 'b=c']);
  t.same(parseLabel('flag'), ['flag', '']);
  t.throws(() => parseLabel('=x'), /has no name/);
  t.equal(parseEnv('A=1'), 'A=1');
  t.equal(parseEnv('HOME2', { HOME2: '/h' }), 'HOME2=/h', 'a bare name takes the shell value, as docker');
  t.equal(parseEnv('UNSET_X', {}), 'UNSET_X');
  t.throws(() => parseEnv('=1'), /must be NAME=value/);
});

t.test('splitWords is a small shell lexer', async (t) => {
  t.same(splitWords(`sh -c 'echo "hi there"'`), ['sh', '-c', 'echo "hi there"']);
  t.same(splitWords(`a\\ b "c\\"d" ''`), ['a b', 'c"d', '']);
  t.same(splitWords('  x   y  '), ['x', 'y']);
  t.throws(() => splitWords(`"open`), /unterminated/);
});

t.test('createSpec: positionals, units and every flag family', async (t) => {
  const f: CreateFlags = {
    name: 'web',
    mode: 'replicated',
    replicas: '3',
    env: ['A=1'],
    label: ['tier=front'],
    workdir: '/srv',
    reserveCpu: '0.25',
    reserveMemory: '64M',
    limitCpu: '1',
    limitMemory: '1G',
    constraint: ['node.role==worker'],
    placementPref: ['spread=node.labels.zone'],
    restartCondition: 'on-failure',
    restartDelay: '5s',
    restartMaxAttempts: '3',
    updateParallelism: '2',
    updateDelay: '10s',
    updateOrder: 'start-first',
    updateFailureAction: 'rollback',
    publish: ['8080:80'],
    mount: ['type=bind,source=/srv,target=/data'],
    healthCmd: 'wget -q localhost',
    healthInterval: '5s',
    healthRetries: '3',
    healthTimeout: '2s',
    runtime: 'oci',
  };
  const spec = createSpec(f, ['busybox', 'httpd', '-f']);
  t.same(spec, {
    Name: 'web',
    Labels: { tier: 'front' },
    TaskTemplate: {
      ContainerSpec: {
        Image: 'busybox',
        Args: ['httpd', '-f'],
        Env: ['A=1'],
        Mounts: [{ Type: 'bind', Source: '/srv', Target: '/data' }],
        Dir: '/srv',
        HealthCheck: { Test: ['CMD-SHELL', 'wget -q localhost'], Interval: 5e9, Timeout: 2e9, Retries: 3 },
      },
      Placement: { Constraints: ['node.role==worker'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] },
      Resources: { Limits: { NanoCPUs: 1e9, MemoryBytes: 1024 ** 3 }, Reservations: { NanoCPUs: 250_000_000, MemoryBytes: 64 * 1024 ** 2 } },
      RestartPolicy: { Condition: 'on-failure', Delay: 5e9, MaxAttempts: 3 },
      Runtime: 'oci',
    },
    Mode: { Replicated: { Replicas: 3 } },
    EndpointSpec: { Mode: 'vip', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' }] },
    UpdateConfig: { Parallelism: 2, Delay: 10e9, Order: 'start-first', FailureAction: 'rollback' },
  });
  const proc = createSpec({ runtime: 'process' }, ['node', 'server.js']);
  t.same(proc.TaskTemplate.ContainerSpec, { Image: 'node', Args: ['server.js'] }, 'process runtime: IMAGE [ARG...] too (the process runtime runs the image as the program)');
  t.equal(proc.TaskTemplate.Runtime, 'process');
  t.same(createSpec({}, ['sleep', '300']).TaskTemplate.ContainerSpec, { Image: 'sleep', Args: ['300'] }, 'no --runtime: the same mapping');
  t.same(createSpec({ entrypoint: 'sh -c' }, ['busybox', 'echo hi']).TaskTemplate.ContainerSpec, { Image: 'busybox', Args: ['echo hi'], Command: ['sh', '-c'] }, '--entrypoint is the Command');
  t.same(createSpec({ mode: 'global' }, ['busybox']).Mode, { Global: {} });
  t.throws(() => createSpec({ mode: 'global', replicas: '2' }, ['busybox']), /--replicas can only be used with replicated/);
  t.throws(() => createSpec({}, []), /needs an IMAGE/);
  t.throws(() => createSpec({ runtime: 'process' }, []), /needs an IMAGE: .*for the process runtime the program/);
  t.throws(() => createSpec({}, ['']), /IMAGE is empty/);
  t.throws(() => createSpec({ reserveMemory: 'lots' }, ['busybox']), /invalid value for --reserve-memory: invalid size "lots"/);
  t.throws(() => createSpec({ restartCondition: 'sometimes' }, ['busybox']), /invalid value for --restart-condition: "sometimes" \(one of none, on-failure, any\)/);
  t.throws(() => createSpec({ timeout: 'soon' }, ['busybox']), /invalid value for --timeout/);
  t.same(createSpec({ healthcheck: false }, ['busybox']).TaskTemplate.ContainerSpec!.HealthCheck, { Test: ['NONE'] });
  t.throws(() => createSpec({ healthcheck: false, healthCmd: 'x' }, ['busybox']), /conflicts/);
  t.same(createSpec({ healthStartPeriod: '30s', healthStartInterval: '1s' }, ['busybox']).TaskTemplate.ContainerSpec!.HealthCheck, { StartPeriod: 30e9, StartInterval: 1e9 }, '--health-start-interval');
  const rb = createSpec(
    { updateMaxFailureRatio: '0.25', rollbackParallelism: '0', rollbackDelay: '1s', rollbackOrder: 'start-first', rollbackFailureAction: 'continue', rollbackMonitor: '5s', rollbackMaxFailureRatio: '1' },
    ['busybox'],
  );
  t.same([rb.UpdateConfig, rb.RollbackConfig], [{ MaxFailureRatio: 0.25 }, { Parallelism: 0, Delay: 1e9, Order: 'start-first', FailureAction: 'continue', Monitor: 5e9, MaxFailureRatio: 1 }], 'the --rollback-* family and --update-max-failure-ratio');
  t.throws(() => createSpec({ updateMaxFailureRatio: '1.5' }, ['busybox']), /invalid value for --update-max-failure-ratio: must be a number from 0 to 1, got "1.5"/);
  t.throws(() => createSpec({ rollbackFailureAction: 'rollback' }, ['busybox']), /invalid value for --rollback-failure-action: "rollback" \(one of pause, continue\)/, 'a rollback is never rolled back');
});

t.test('updateSpec: docker --*-add / --*-rm semantics, never mutating the input', async (t) => {
  const cur = createSpec({ name: 'web', env: ['A=1', 'B=2'], constraint: ['node.role==worker'], publish: ['8080:80'], mount: ['type=bind,source=/a,target=/a'], label: ['x=1'] }, ['busybox', 'sleep', '1']);
  const before = JSON.stringify(cur);
  const next = updateSpec(cur, {
    image: 'busybox:1.36',
    args: "sh -c 'sleep 2'",
    envAdd: ['A=9', 'C=3'],
    envRm: ['B'],
    labelAdd: ['y=2'],
    labelRm: ['x'],
    constraintAdd: ['node.labels.zone==a'],
    constraintRm: ['node.role == worker'],
    publishAdd: ['9090:90'],
    publishRm: ['80'],
    mountAdd: ['type=tmpfs,target=/t'],
    mountRm: ['/a'],
    replicas: '5',
    force: true,
  });
  t.equal(JSON.stringify(cur), before, 'input untouched');
  const c = next.TaskTemplate.ContainerSpec!;
  t.equal(c.Image, 'busybox:1.36');
  t.same(c.Args, ['sh', '-c', 'sleep 2']);
  t.same(c.Env, ['A=9', 'C=3']);
  t.same(next.Labels, { y: '2' });
  t.same(next.TaskTemplate.Placement?.Constraints, ['node.labels.zone==a']);
  t.same(next.EndpointSpec?.Ports, [{ Protocol: 'tcp', TargetPort: 90, PublishedPort: 9090, PublishMode: 'ingress' }]);
  t.same(c.Mounts, [{ Type: 'tmpfs', Target: '/t' }]);
  t.same(next.Mode, { Replicated: { Replicas: 5 } });
  t.equal(next.TaskTemplate.ForceUpdate, 1);
  t.equal(updateSpec(next, { force: true }).TaskTemplate.ForceUpdate, 2);
  t.same(updateSpec(cur, {}), cur, 'no flags, no change');
});
