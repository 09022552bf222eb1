/**
 * IPAM, pure: CIDR parsing and arithmetic, lowest-free addresses, the subnet
 * pool, VNIs and ports; seeded property tests that an allocator built on
 * lowestFree never gives one address to two owners, and that exhaustion is a
 * typed error.
 */
import t from 'tap';
import {
  capacity,
  checkUserSubnet,
  containsAddr,
  formatCidr,
  formatIPv4,
  INGRESS_VNI,
  IpamError,
  lowestFree,
  lowestFreePort,
  nextFreeSubnet,
  nextVni,
  overlaps,
  parseCidr,
  parseIPv4,
  type TakenSubnet,
} from '../../src/overlay-net/ipam/index.js';
import { seededRng } from '../../src/util/rng.js';

const ip = parseIPv4;

t.test('IPv4 and CIDR parsing', async (t) => {
  t.equal(ip('10.0.1.5'), 0x0a000105);
  t.equal(ip('255.255.255.255'), 0xffffffff);
  t.equal(formatIPv4(0xc0a80001), '192.168.0.1');
  for (const bad of ['10.0.1', '10.0.1.256', '010.0.0.1', '1.2.3.4.5', '', 'a.b.c.d', '1.2.3.-1']) {
    t.throws(() => ip(bad), { code: 'BAD_ADDRESS' }, bad);
  }
  t.same(parseCidr('10.0.1.0/24'), { base: ip('10.0.1.0'), prefix: 24 });
  t.same(parseCidr('0.0.0.0/0'), { base: 0, prefix: 0 });
  t.throws(() => parseCidr('10.0.1.5/24', 'IPAM.Config[0].Subnet'), { code: 'BAD_ADDRESS', message: /IPAM\.Config\[0\]\.Subnet: .*host bits set.*10\.0\.1\.0\/24/ });
  t.throws(() => parseCidr('10.0.1.0/33'), { code: 'BAD_ADDRESS' });
  t.throws(() => parseCidr('10.0.1.0'), { code: 'BAD_ADDRESS' });
  const e = (() => {
    try {
      parseCidr('x', 'F');
    } catch (err) {
      return err;
    }
  })();
  t.ok(e instanceof IpamError && e.status === 400 && e.qualifiedCode === 'ipam.BAD_ADDRESS' && e.field === 'F');
  t.equal(formatCidr(parseCidr('192.168.128.0/17')), '192.168.128.0/17');
});

t.test('containment and overlap', async (t) => {
  const a = parseCidr('10.0.0.0/16');
  t.ok(containsAddr(a, ip('10.0.255.255')));
  t.notOk(containsAddr(a, ip('10.1.0.0')));
  t.ok(overlaps(a, parseCidr('10.0.5.0/24')));
  t.ok(overlaps(parseCidr('10.0.5.0/24'), a));
  t.ok(overlaps(parseCidr('0.0.0.0/0'), parseCidr('1.2.3.4/32')));
  t.notOk(overlaps(parseCidr('10.0.0.0/24'), parseCidr('10.0.1.0/24')));
  t.ok(overlaps(parseCidr('10.0.1.0/24'), parseCidr('10.0.1.0/24')));
});

t.test('lowest free address skips network, broadcast and gateway', async (t) => {
  const s = parseCidr('10.0.1.0/29'); // .0 network, .7 broadcast, .1 gateway: hosts .2-.6
  const used = new Set<number>();
  const got: string[] = [];
  for (let i = 0; i < capacity(s); i++) {
    const a = lowestFree(s, ip('10.0.1.1'), (x) => used.has(x));
    used.add(a);
    got.push(formatIPv4(a));
  }
  t.same(got, ['10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5', '10.0.1.6']);
  t.throws(() => lowestFree(s, ip('10.0.1.1'), (x) => used.has(x)), { code: 'EXHAUSTED', status: 409, message: /10\.0\.1\.0\/29/ });
  used.delete(ip('10.0.1.4'));
  t.equal(formatIPv4(lowestFree(s, ip('10.0.1.1'), (x) => used.has(x))), '10.0.1.4', 'a released address is the lowest again');
  // A user gateway elsewhere: the first host is then free to give out.
  t.equal(formatIPv4(lowestFree(s, ip('10.0.1.6'), () => false)), '10.0.1.1');
  t.throws(() => lowestFree(parseCidr('10.0.0.0/31'), ip('10.0.0.1'), () => false), { code: 'EXHAUSTED' });
});

t.test('subnet pool: ingress first, then the next free /24 around user subnets', async (t) => {
  const taken: TakenSubnet[] = [];
  const next = () => {
    const c = nextFreeSubnet(taken);
    taken.push({ name: `n${taken.length}`, subnet: c });
    return formatCidr(c);
  };
  t.equal(next(), '10.0.0.0/24', 'the first block is ingress');
  t.equal(next(), '10.0.1.0/24');
  taken.push({ name: 'user', subnet: parseCidr('10.0.2.0/23') });
  t.equal(next(), '10.0.4.0/24', 'jumps past a larger user block');
  taken.push({ name: 'inside', subnet: parseCidr('10.0.5.128/25') });
  t.equal(next(), '10.0.6.0/24', 'a block partly used by a smaller subnet is skipped');
  t.throws(() => nextFreeSubnet([{ name: 'all', subnet: parseCidr('10.0.0.0/8') }]), { code: 'EXHAUSTED' });
});

t.test('user subnets: overlap refused naming the field; gateway checked', async (t) => {
  const taken: TakenSubnet[] = [{ name: 'ingress', subnet: parseCidr('10.0.0.0/24') }];
  t.same(checkUserSubnet('192.168.7.0/24', undefined, taken), { subnet: parseCidr('192.168.7.0/24'), gateway: ip('192.168.7.1') });
  t.equal(checkUserSubnet('192.168.7.0/24', '192.168.7.254', taken).gateway, ip('192.168.7.254'));
  t.throws(() => checkUserSubnet('10.0.0.0/16', undefined, taken), { code: 'OVERLAP', field: 'IPAM.Config[0].Subnet', message: /overlaps network ingress/ });
  t.throws(() => checkUserSubnet('10.0.0.128/25', undefined, taken), { code: 'OVERLAP' });
  t.throws(() => checkUserSubnet('192.168.7.0/24', '192.168.8.1', taken), { code: 'OUT_OF_SUBNET', field: 'IPAM.Config[0].Gateway' });
  t.throws(() => checkUserSubnet('192.168.7.0/24', '192.168.7.255', taken), { code: 'OUT_OF_SUBNET' });
  t.throws(() => checkUserSubnet('192.168.7.0/24', 'nope', taken), { code: 'BAD_ADDRESS', field: 'IPAM.Config[0].Gateway' });
  t.throws(() => checkUserSubnet('192.168.7.0/31', undefined, taken), { code: 'BAD_ADDRESS', message: /too small/ });
});

t.test('VNIs and ports: lowest free, unique', async (t) => {
  t.equal(INGRESS_VNI, 4096);
  t.equal(nextVni([]), 4097);
  t.equal(nextVni([4096, 4097, 4099]), 4098);
  t.equal(lowestFreePort(() => false), 30000);
  t.equal(lowestFreePort((p) => p < 30005), 30005);
  t.throws(() => lowestFreePort(() => true, 'Spec.EndpointSpec.Ports[0].PublishedPort'), { code: 'EXHAUSTED', field: 'Spec.EndpointSpec.Ports[0].PublishedPort' });
});

t.test('property: random allocate/release never gives one address two owners; exhaustion is typed', async (t) => {
  for (let seed = 1; seed <= 200; seed++) {
    const rng = seededRng(seed);
    const prefix = rng.range(26, 30);
    const s = { base: ip('172.16.0.0'), prefix };
    const gw = s.base + 1;
    const owner = new Map<number, number>();
    let nextOwner = 0;
    for (let step = 0; step < 300; step++) {
      if (owner.size > 0 && rng.chance(0.4)) {
        owner.delete(rng.pick([...owner.keys()]));
        continue;
      }
      let a: number;
      try {
        a = lowestFree(s, gw, (x) => owner.has(x));
      } catch (err) {
        if (!(err instanceof IpamError) || err.code !== 'EXHAUSTED' || owner.size !== capacity(s)) {
          t.fail(`seed ${seed}: unexpected failure with ${owner.size}/${capacity(s)} used: ${String(err)}`);
          return;
        }
        continue;
      }
      if (owner.has(a) || a === gw || a === s.base || !containsAddr(s, a) || a === s.base + 2 ** (32 - prefix) - 1) {
        t.fail(`seed ${seed}: ${formatIPv4(a)} handed out wrongly`);
        return;
      }
      // Lowest: every host below it is taken.
      for (let x = s.base + 1; x < a; x++) {
        if (x !== gw && !owner.has(x)) {
          t.fail(`seed ${seed}: ${formatIPv4(x)} was free below ${formatIPv4(a)}`);
          return;
        }
      }
      owner.set(a, nextOwner++);
    }
  }
  t.pass('200 seeds × 300 steps');
});
