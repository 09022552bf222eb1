import t from 'tap';
import { formatBytes, formatDuration, humanDuration, parseBytes, parseCount, parseCpus, parseDuration, UnitError } from '../../src/cli/units.js';

t.test('memory sizes are binary, as docker --memory', async (t) => {
  t.equal(parseBytes('64M'), 64 * 1024 * 1024);
  t.equal(parseBytes('64m'), 64 * 1024 * 1024);
  t.equal(parseBytes('1G'), 1024 ** 3);
  t.equal(parseBytes('1gb'), 1024 ** 3);
  t.equal(parseBytes('1.5GiB'), 1.5 * 1024 ** 3);
  t.equal(parseBytes('512k'), 512 * 1024);
  t.equal(parseBytes('4096'), 4096);
  t.equal(parseBytes('10b'), 10);
  for (const bad of ['', 'M', '12Q', '-1M', '1 G B', 'lots']) t.throws(() => parseBytes(bad), UnitError, bad);
});

t.test('CPUs become NanoCPUs', async (t) => {
  t.equal(parseCpus('0.25'), 250_000_000);
  t.equal(parseCpus('2'), 2e9);
  t.equal(parseCpus('0.001'), 1_000_000);
  for (const bad of ['', 'half', '-1', '1.0000000001', '1e3']) t.throws(() => parseCpus(bad), UnitError, bad);
});

t.test('Go durations in nanoseconds', async (t) => {
  t.equal(parseDuration('5s'), 5e9);
  t.equal(parseDuration('1m30s'), 90e9);
  t.equal(parseDuration('500ms'), 5e8);
  t.equal(parseDuration('1h'), 3600e9);
  t.equal(parseDuration('1.5s'), 1.5e9);
  t.equal(parseDuration('10us'), 10_000);
  t.equal(parseDuration('0'), 0);
  for (const bad of ['', '5', 's', '5 s', '5x', '1m30']) t.throws(() => parseDuration(bad), UnitError, bad);
});

t.test('counts', async (t) => {
  t.equal(parseCount('3'), 3);
  t.equal(parseCount('0'), 0);
  for (const bad of ['', '-1', '1.5', 'three']) t.throws(() => parseCount(bad), UnitError, bad);
});

t.test('formatting', async (t) => {
  t.equal(formatBytes(64 * 1024 * 1024), '64MiB');
  t.equal(formatBytes(1536), '1.5KiB');
  t.equal(formatBytes(25276502016), '23.54GiB');
  t.equal(formatBytes(100), '100B');
  t.equal(formatDuration(5e9), '5s');
  t.equal(formatDuration(90e9), '1m30s');
  t.equal(formatDuration(5e8), '500ms');
  t.equal(formatDuration(3600e9), '1h0m0s');
  t.equal(formatDuration(0), '0s');
  t.equal(humanDuration(300), 'Less than a second');
  t.equal(humanDuration(1000), '1 second');
  t.equal(humanDuration(5000), '5 seconds');
  t.equal(humanDuration(70_000), 'About a minute');
  t.equal(humanDuration(10 * 60_000), '10 minutes');
  t.equal(humanDuration(3 * 3600_000), '3 hours');
  t.equal(humanDuration(3 * 86400_000), '3 days');
});
