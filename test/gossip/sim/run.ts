/**
 * Replays one simulation run: the command a failing test prints.
 *   npm run sim:gossip -- --scenario lossy-pauses --seed 7 [--members N] [--minutes M]
 */
import { runScenario, violations } from './cluster.js';
import { summary } from './report.js';
import { scenario, type Scenario } from './scenario.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const name = arg('scenario') ?? 'lossy-pauses';
const seed = Number(arg('seed') ?? '1');
const over: Partial<Scenario> = {};
if (arg('members')) over.members = Number(arg('members'));
if (arg('minutes')) over.durationMs = Number(arg('minutes')) * 60_000;
if (arg('loss')) over.loss = Number(arg('loss'));
const r = runScenario(scenario(name, over), seed);
console.log(summary(r));
const v = violations(r);
for (const line of v) console.log(`VIOLATION: ${line}`);
process.exitCode = v.length > 0 ? 1 : 0;
