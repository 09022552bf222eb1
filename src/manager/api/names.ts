/**
 * Names for services created without one, in the spirit of Docker's
 * adjective_surname names (dockerd names them the same way).
 */
import { randomInt } from 'node:crypto';

const ADJECTIVES = ['brave', 'calm', 'eager', 'fond', 'gentle', 'happy', 'jolly', 'keen', 'lucid', 'merry', 'nimble', 'quiet', 'sharp', 'swift', 'tender', 'vivid', 'wise', 'zealous'];
const NAMES = ['babbage', 'curie', 'dijkstra', 'euler', 'feynman', 'goldberg', 'hopper', 'knuth', 'lamport', 'liskov', 'lovelace', 'noether', 'ritchie', 'shannon', 'turing', 'wozniak'];

/** A random name not taken according to `taken`. */
export function randomName(taken: (name: string) => boolean): string {
  for (let i = 0; ; i++) {
    const base = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NAMES[randomInt(NAMES.length)]}`;
    const name = i < 10 ? base : `${base}${randomInt(1000)}`;
    if (!taken(name)) return name;
  }
}
