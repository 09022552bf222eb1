/**
 * `npm run bench:gossip`: the deterministic SWIM + Lifeguard simulation at
 * 100 and 1,000 members, 10 simulated minutes each, 10% datagram loss, 5% of
 * members pausing now and then (0.5–4 s at a time), 1% slow members, and 40
 * crashes (each crashed member restarts a minute later and rejoins).
 *
 * Prints a summary per size, then the 100-member figures and, as the LAST
 * line, the 1,000-member figures as one JSON object:
 *   detect_first = crash → first member marks it dead;
 *   detect_all   = crash → every member that stayed running (and was not
 *                  itself paused meanwhile) marks it dead;
 *   false_positives: see test/gossip/sim/cluster.ts for the definition;
 *   bytes_per_member_per_s: datagrams (exact msgpack size of each packet's
 *                  messages) plus push-pull streams, per member.
 * Optional: --seed N (default 1).
 */
import { Packr } from '../src/util/msgpack.js';
import { runScenario, violations } from '../test/gossip/sim/cluster.js';
import { figures, summary } from '../test/gossip/sim/report.js';
import { scenario, replayCommand } from '../test/gossip/sim/scenario.js';
import { encodedSize } from '../src/gossip/size.js';
import type { GossipMessage } from '../src/gossip/interface.js';

const i = process.argv.indexOf('--seed');
const seed = i >= 0 ? Number(process.argv[i + 1]) : 1;

// Calibration: our byte counts are the msgpack map encoding; show how the
// record encoding the UDP transport may use compares on typical messages.
function calibrate(): string {
  const packr = new Packr({ useRecords: true });
  const plain = new Packr({ useRecords: false });
  const sample: GossipMessage[] = [
    { type: 'ping', seq: 123456, from: 'n17', target: 'n923' },
    { type: 'ack', seq: 123456, from: 'n923' },
    { type: 'suspect', id: 'n42', inc: 3, from: 'n17' },
    { type: 'alive', id: 'n42', inc: 4, addr: '10.0.42.1:4242', clusterAddr: '10.0.42.1:4242', role: 'worker', meta: { resources: { nanoCpus: 4e9, memoryBytes: 8 * 1024 ** 3 }, labels: { zone: 'z1' } } },
  ];
  const est = sample.reduce((a, m) => a + encodedSize(m), 0);
  const mp = plain.pack(sample).length;
  const rec = packr.pack(sample).length;
  return `byte model: sizeOf ${est} B for a sample packet; msgpackr maps ${mp} B, msgpackr records (standalone) ${rec} B`;
}

console.log(calibrate());
const results = [];
for (const name of ['bench-100', 'bench'] as const) {
  const sc = scenario(name);
  const r = runScenario(sc, seed);
  console.log(`--- ${name} (seed ${seed})`);
  console.log(summary(r));
  const v = violations(r);
  for (const line of v) console.log(`VIOLATION: ${line}`);
  if (v.length > 0) console.log(`replay: ${replayCommand(name, seed)}`);
  results.push(figures(r, sc.loss, sc.pausedFraction));
}
console.log(JSON.stringify(results[0]));
console.log(JSON.stringify(results[1]));
