/**
 * Constraint parsing (Docker syntax, good and bad input), matching semantics
 * (case, missing labels, platform aliases) and spread descriptors.
 */
import t from 'tap';
import { constraintMatches, parseConstraint, parseConstraints, parseSpreadDescriptor } from '../../src/scheduler/constraint.js';
import { NodeInfo } from '../../src/scheduler/node-info.js';
import { node, type NodeOpts } from './fixtures.js';

function info(id: string, o: NodeOpts = {}): NodeInfo {
  const i = new NodeInfo(id, 0);
  i.setNode(node(id, o));
  return i;
}

t.test('parses every supported key, both operators, whitespace and quotes', async (t) => {
  const cases: [string, string, string, string][] = [
    ['node.id==abc', 'id', '==', 'abc'],
    ['node.hostname != web-1', 'hostname', '!=', 'web-1'],
    ['  node.role==manager  ', 'role', '==', 'manager'],
    ['node.platform.os==Linux', 'os', '==', 'linux'],
    ['node.platform.arch==x86_64', 'arch', '==', 'amd64'],
    ['node.labels.zone=="eu west"', 'label', '==', 'eu west'],
    ["node.labels.zone=='a'", 'label', '==', 'a'],
    ['engine.labels.kernel != 5.10', 'engineLabel', '!=', '5.10'],
    ['NODE.ROLE==worker', 'role', '==', 'worker'],
  ];
  for (const [expr, kind, op, value] of cases) {
    const c = parseConstraint(expr);
    t.equal(c.attr.kind, kind, `${expr}: kind`);
    t.equal(c.op, op, `${expr}: op`);
    t.equal(c.match, value, `${expr}: the value it compares`);
  }
  t.equal(parseConstraint(' node.labels.zone == "a" ').text, 'node.labels.zone==a', 'reason text is normalised');
  const label = parseConstraint('node.labels.Zone==A');
  t.same(label.attr, { kind: 'label', name: 'Zone' }, 'label names keep their case');
  t.same(parseConstraints(undefined), []);
  t.equal(parseConstraints(['node.role==worker', 'node.labels.a!=b']).length, 2);
});

t.test('rejects bad input with INVALID_CONSTRAINT and a message that says why', async (t) => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['node.labels.zone=a', /expected <key>==<value>/],
    ['node.role ~ manager', /expected <key>==<value>/],
    ['==worker', /key "" is not valid/],
    ['node.role==', /empty value/],
    ['node.role==  ', /empty value/],
    ['node.role==""', /empty value/],
    ['no de==x', /is not valid/],
    ['1node==x', /is not valid/],
    ['no*de==x', /is not valid/],
    ['node.name==x', /unknown key "node.name"/],
    ['node.labels.==x', /needs a label name/],
    ['zone==a', /unknown key/],
    ['node.role==a==b', /more than one operator/],
    ['node.role!=a!=b', /more than one operator/],
  ];
  for (const [expr, re] of bad) {
    try {
      parseConstraint(expr);
      t.fail(`${JSON.stringify(expr)} parsed`);
    } catch (e) {
      t.match(e, { name: 'ConstraintError', code: 'INVALID_CONSTRAINT', status: 400 }, `${JSON.stringify(expr)}: code`);
      t.match((e as Error).message, re, `${JSON.stringify(expr)}: ${(e as Error).message}`);
      t.match((e as Error).message, JSON.stringify(expr), 'names the constraint');
    }
  }
  t.throws(() => parseConstraint(42 as unknown as string), { code: 'INVALID_CONSTRAINT' }, 'non-strings never crash');
});

t.test('matching: case-insensitive values, missing labels are empty, platform aliases', async (t) => {
  const n = info('N1', {
    hostname: 'Web-1',
    role: 'manager',
    labels: { zone: 'EU-1', Disk: 'ssd' },
    engineLabels: { kernel: '6.1' },
    platform: { OS: 'Linux', Architecture: 'x64' },
  });
  const yes = [
    'node.id==n1',
    'node.hostname==web-1',
    'node.role==manager',
    'node.role!=worker',
    'node.labels.zone==eu-1',
    'node.labels.Disk==SSD',
    'node.labels.missing!=x',
    'engine.labels.kernel==6.1',
    'engine.labels.other!=1',
    'node.platform.os==linux',
    'node.platform.arch==amd64',
    'node.platform.arch==x86_64',
  ];
  const no = ['node.id!=N1', 'node.labels.disk==ssd', 'node.labels.missing==x', 'node.labels.zone!=EU-1', 'node.platform.arch==arm64', 'engine.labels.kernel==5.10'];
  for (const e of yes) t.ok(constraintMatches(parseConstraint(e), n), `${e} matches`);
  for (const e of no) t.notOk(constraintMatches(parseConstraint(e), n), `${e} does not match`);
});

t.test('spread descriptors use the same keys', async (t) => {
  t.same(parseSpreadDescriptor('node.labels.zone'), { kind: 'label', name: 'zone' });
  t.same(parseSpreadDescriptor(' engine.labels.rack '), { kind: 'engineLabel', name: 'rack' });
  t.same(parseSpreadDescriptor('node.hostname'), { kind: 'hostname' });
  for (const d of ['', 'zone', 'node.labels.', 'node labels.zone', undefined as unknown as string]) {
    t.throws(() => parseSpreadDescriptor(d), { code: 'INVALID_PREFERENCE' }, `${JSON.stringify(d)} is rejected`);
  }
});
