import t from 'tap';
import dgram from 'node:dgram';
import { GossipDriver } from '../../src/gossip/driver.js';
import type { GossipMessage } from '../../src/gossip/interface.js';
import { Keyring } from '../../src/gossip/keyring.js';
import { GossipPacketWire } from '../../src/gossip/transport.js';
import { Codec, FrameKind } from '../../src/wire/codec.js';
import { WsTransport } from '../../src/wire/ws-transport.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Datagrams that fail authentication are dropped and counted
 * (GossipDriver.metrics.droppedUnauthenticated), and never reach the core:
 * a forged "B is dead" sealed with the wrong key, tampered with, or plain
 * noise leaves the member list as it was — while the same message sealed
 * with the cluster key does take effect (so the forged packet is a real
 * threat, not a malformed one that would be ignored anyway).
 */
const meta = { resources: { nanoCpus: 1e9, memoryBytes: 1e9 }, labels: {} };

// The lan profile, not local: local's 40 ms probe deadline lets a loaded CI
// machine suspect b for reasons that have nothing to do with the datagrams
// under test, and a suspicion (with b's refutation at a higher incarnation)
// is exactly what the membership assertions below must not see by accident.
async function startDriver(id: string, host: string, key: string, cleanup: (() => Promise<void>)[]): Promise<GossipDriver> {
  const tr = new WsTransport({ nodeId: id });
  const addr = await tr.listen({ host, port: 0 });
  const d = await GossipDriver.start({ self: { id, addr, clusterAddr: addr, role: 'worker', meta }, keyring: new Keyring([key]), transport: tr, profile: 'lan' });
  cleanup.push(async () => {
    await d.stop();
    await tr.close();
  });
  return d;
}

function send(sock: dgram.Socket, to: string, buf: Buffer): Promise<void> {
  const i = to.lastIndexOf(':');
  return new Promise((resolve, reject) => sock.send(buf, Number(to.slice(i + 1)), to.slice(0, i), (err) => (err ? reject(err) : resolve())));
}

t.test('unauthenticated datagrams are dropped, counted, and change no membership', async (t) => {
  const cleanup: (() => Promise<void>)[] = [];
  t.teardown(async () => {
    for (const f of cleanup.reverse()) await f();
  });
  const key = Keyring.generateKey();
  const otherKey = Keyring.generateKey();
  const a = await startDriver('a', '127.0.0.61', key, cleanup);
  const b = await startDriver('b', '127.0.0.62', key, cleanup);
  const aAddr = a.members().find((m) => m.id === 'a')!.addr;
  b.join([aAddr]);
  const bAliveAtA = () => a.members().find((m) => m.id === 'b' && m.state === 'alive');
  await waitFor(() => bAliveAtA() && b.members().find((m) => m.id === 'a' && m.state === 'alive'), { what: 'a and b alive to each other' });
  const deadEvents: string[] = [];
  a.onEvent((e) => e.type === 'dead' && deadEvents.push(`${e.member.id} (from ${e.from})`));
  t.equal(a.metrics.droppedUnauthenticated, 0, 'no failures between nodes sharing the key');

  // A stranger with another key tries to join through push-pull: refused.
  const c = await startDriver('c', '127.0.0.63', otherKey, cleanup);
  const ppBefore = a.metrics.pushPullsUnauthenticated;
  c.join([aAddr]);
  await waitFor(() => a.metrics.pushPullsUnauthenticated > ppBefore, { what: "a refusing the stranger's push-pull" });
  t.notOk(a.members().some((m) => m.id === 'c'), 'the stranger is not a member of a');
  t.notOk(c.members().some((m) => m.id === 'a'), 'nor does the stranger learn a');

  // A forged "b is dead" in a well-formed gossip frame.
  const bInc = bAliveAtA()!.incarnation;
  const forged: GossipMessage[] = [{ type: 'dead', id: 'b', inc: bInc, from: 'mallory' }];
  const frame = Buffer.from(new Codec().encode(FrameKind.Message, GossipPacketWire.name, 0, { type: 'compound', msgs: forged }));
  const wrongKey = new Keyring([otherKey]).seal(frame);
  const tampered = Buffer.from(new Keyring([key]).seal(frame));
  tampered[tampered.length - 5]! ^= 0x40;
  const truncated = new Keyring([key]).seal(frame).subarray(0, 20);
  const noise = Buffer.from('definitely not a sealed gossip packet');
  const bad = [wrongKey, tampered, truncated, noise, Buffer.alloc(1)];

  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.64', () => r()));
  cleanup.push(() => new Promise<void>((r) => sock.close(() => r())));
  const before = { ...a.metrics };
  for (const buf of bad) await send(sock, aAddr, buf);
  await waitFor(() => a.metrics.droppedUnauthenticated - before.droppedUnauthenticated >= bad.length, {
    timeoutMs: 5_000,
    what: `droppedUnauthenticated to rise by ${bad.length}`,
  });
  t.equal(a.metrics.droppedUnauthenticated - before.droppedUnauthenticated, bad.length, 'each bad datagram is counted once as unauthenticated');
  t.equal(a.metrics.droppedMalformed, before.droppedMalformed, 'none is mistaken for an authenticated but malformed frame');
  t.ok(a.metrics.datagramsIn - before.datagramsIn >= bad.length, 'they were received');
  // Normal traffic goes on meanwhile and changes nothing either.
  const inAt = a.metrics.datagramsIn;
  await waitFor(() => a.metrics.datagramsIn > inAt + 3, { what: 'more authenticated traffic after the bad datagrams' });
  t.same(deadEvents, [], 'no member was declared dead');
  t.equal(bAliveAtA()?.incarnation, bInc, 'b is alive at a, at the same incarnation');
  t.same(a.members().map((m) => `${m.id}:${m.state}`).sort(), ['a:alive', 'b:alive'], "a's member list is unchanged");

  // An authenticated but undecodable frame is the other counter.
  await send(sock, aAddr, new Keyring([key]).seal(noise));
  await waitFor(() => a.metrics.droppedMalformed > before.droppedMalformed, { timeoutMs: 5_000, what: 'droppedMalformed to rise' });
  t.equal(a.metrics.droppedUnauthenticated - before.droppedUnauthenticated, bad.length, 'which is not counted as unauthenticated');

  // Control: the very same message sealed with the cluster key is acted upon
  // (forged at b's incarnation as a sees it now, so a refutation that raced
  // in meanwhile cannot make it stale).
  const nowInc = a.members().find((m) => m.id === 'b')!.incarnation;
  const control = Buffer.from(new Codec().encode(FrameKind.Message, GossipPacketWire.name, 0, { type: 'compound', msgs: [{ ...forged[0]!, inc: nowInc }] }));
  await send(sock, aAddr, new Keyring([key]).seal(control));
  await waitFor(() => deadEvents.length > 0, { timeoutMs: 5_000, what: 'the authenticated forged dead to take effect' });
  t.match(deadEvents[0], /^b \(from mallory\)/, 'the authenticated copy does declare b dead: the forged packets were potent');
});
