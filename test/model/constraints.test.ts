/**
 * The one constraint grammar (src/model/constraints.ts), and the end of the
 * drift it replaced: the CLI, the API, the orchestrator and the scheduler
 * accept the same constraints, and the orchestrator and the scheduler reach
 * the same verdict on every node.
 */
import t from 'tap';
import { ConstraintError, nodeIp, nodeMatches, parseConstraint, parseSpreadDescriptor } from '../../src/model/constraints.js';
import { parseConstraint as apiParse } from '../../src/manager/api/validate/constraints.js';
import { parseConstraints as orchestratorParse } from '../../src/manager/orchestrator/constraints.js';
import { parseConstraint as cliParse } from '../../src/cli/commands/service-create-flags.js';
import { constraintMatches } from '../../src/scheduler/constraint.js';
import { NodeInfo } from '../../src/scheduler/node-info.js';
import { seededRng } from '../../src/util/rng.js';
import { node } from '../scheduler/fixtures.js';
import type { Node } from '../../src/model/index.js';

t.test('node.ip: an address or a CIDR block, IPv4 or IPv6', async (t) => {
  const n = (addr: string): Node => ({ ...node('a'), Status: { State: 'ready', Addr: addr } });
  t.ok(nodeMatches([parseConstraint('node.ip==10.0.0.7')], n('10.0.0.7')));
  t.notOk(nodeMatches([parseConstraint('node.ip==10.0.0.7')], n('10.0.0.8')));
  t.ok(nodeMatches([parseConstraint('node.ip==10.0.0.0/24')], n('10.0.0.200')));
  t.notOk(nodeMatches([parseConstraint('node.ip==10.0.0.0/24')], n('10.0.1.1')));
  t.ok(nodeMatches([parseConstraint('node.ip!=10.0.0.0/24')], n('10.0.1.1')));
  t.ok(nodeMatches([parseConstraint('node.ip==fd00::/8')], n('fd12::1')));
  t.ok(nodeMatches([parseConstraint('node.ip==127.0.0.0/8')], n('127.0.3.4:4242')), 'an address with a port counts by its address');
  t.equal(nodeIp(n('[fd00::1]:4242')), 'fd00::1');
  for (const bad of ['node.ip==10.0.0.300', 'node.ip==10.0.0.0/33', 'node.ip==eth0', 'node.ip==10.0.0.0/8/2']) {
    t.throws(() => parseConstraint(bad), { name: 'ConstraintError', code: 'INVALID_CONSTRAINT', status: 400, message: /node\.ip takes an IP address or a CIDR block/ }, bad);
  }
});

t.test('bad constraints: a coded error (400) whose message names the constraint and what is wrong', async (t) => {
  const cases: [string, RegExp][] = [
    ['node.role=manager', /expected <key>==<value>/],
    ['node.role', /expected/],
    ['==manager', /key "" is not valid/],
    ['node.colour==red', /unknown key "node.colour"/],
    ['node.labels.==x', /needs a label name/],
    ['node.role==', /empty value/],
    ['node.role==boss', /manager or worker/],
    ['node.labels.a==b==c', /more than one operator/],
    ['node.labels.a==<b>', /not allowed/],
    ['', /empty/],
  ];
  for (const [bad, why] of cases) {
    const e = (() => {
      try {
        parseConstraint(bad);
        return null;
      } catch (err) {
        return err;
      }
    })();
    t.ok(e instanceof ConstraintError, `${JSON.stringify(bad)} is refused`);
    t.match((e as Error).message, why, `${JSON.stringify(bad)}: ${(e as Error).message}`);
  }
  t.throws(() => parseSpreadDescriptor('zone'), { code: 'INVALID_PREFERENCE' });
});

/** Constraints a user might write, good and bad, including the ones the old parsers disagreed on. */
function randomConstraint(rng: ReturnType<typeof seededRng>): string {
  const keys = ['node.id', 'node.hostname', 'node.ip', 'node.role', 'node.platform.os', 'node.platform.arch', 'node.labels.zone', 'node.labels.Zone', 'engine.labels.disk', 'NODE.ROLE', 'node.colour', 'node.labels.'];
  const values = ['a', 'b', 'manager', 'worker', 'linux', 'LINUX', 'x86_64', 'amd64', 'arm64', '10.0.0.1', '10.0.0.0/24', '10.0.1.0/24', 'ssd', '"eu west"', "'a'", '', 'x<y'];
  const op = rng.pick(['==', '!=', ' == ', '=', '!==']);
  return `${rng.pick(keys)}${op}${rng.pick(values)}`;
}

function randomNode(rng: ReturnType<typeof seededRng>, i: number): Node {
  const n = node(rng.pick(['a', 'b', `n${i}`]), {
    role: rng.pick(['manager', 'worker'] as const),
    hostname: rng.pick(['a', 'B', 'web-1']),
    labels: rng.chance(0.5) ? { zone: rng.pick(['a', 'b', 'eu west']) } : rng.chance(0.5) ? { Zone: 'a' } : {},
    engineLabels: rng.chance(0.5) ? { disk: rng.pick(['ssd', 'SSD', 'hdd']) } : {},
    platform: { OS: rng.pick(['linux', 'Linux', 'windows']), Architecture: rng.pick(['x86_64', 'amd64', 'aarch64', 'x64']) },
  });
  return { ...n, Status: { State: 'ready', Addr: rng.pick(['10.0.0.1', '10.0.0.77', '10.0.1.5', '192.168.1.1:4242']) } };
}

t.test('every layer accepts the same constraints, and the orchestrator and the scheduler agree on every node', async (t) => {
  const rng = seededRng(Number(process.env.CONSTRAINT_SEED ?? 20261204));
  let accepted = 0;
  let refused = 0;
  let checked = 0;
  const disagreements: string[] = [];
  for (let i = 0; i < 2_000; i++) {
    const expr = randomConstraint(rng);
    const verdicts = [
      ['model', () => parseConstraint(expr)],
      ['cli', () => cliParse(expr)],
      ['api', () => apiParse(expr)],
      ['orchestrator', () => {
        const r = orchestratorParse([expr]);
        if (!r.ok) throw new Error(r.error);
      }],
    ].map(([, f]) => {
      try {
        (f as () => unknown)();
        return true;
      } catch {
        return false;
      }
    });
    if (new Set(verdicts).size !== 1) disagreements.push(`${JSON.stringify(expr)}: model/cli/api/orchestrator say ${verdicts.join('/')}`);
    if (!verdicts[0]) {
      refused++;
      continue;
    }
    accepted++;
    const c = parseConstraint(expr);
    for (let j = 0; j < 5; j++) {
      const n = randomNode(rng, j);
      const info = new NodeInfo(n.ID, 0);
      info.setNode(n);
      const o = nodeMatches([c], n);
      const s = constraintMatches(c, info);
      checked++;
      if (o !== s) disagreements.push(`${expr} on ${JSON.stringify({ ...n.Spec, ...n.Description, Addr: n.Status.Addr })}: orchestrator ${o}, scheduler ${s}`);
    }
  }
  t.same(disagreements.slice(0, 5), [], `no disagreement (${accepted} accepted, ${refused} refused, ${checked} node verdicts; CONSTRAINT_SEED replays)`);
  t.ok(accepted > 200 && refused > 200, 'both kinds were exercised');
});
