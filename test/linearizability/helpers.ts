import { sharedTestdata } from '../../chaos-tests/shared-data.js';
import type { CasInput, CasOperation, CasOutput, KvInput, KvOperation, KvOutput } from '../../chaos-tests/linearizability/index.js';

export { repoRoot } from '../helpers/dist.js';
/** Shared test data, read in place (never copied into the project). */
export const testdata = sharedTestdata();

/** A CAS-register operation; ret = Infinity means unknown outcome. */
export function cas(client: number, call: number, ret: number, input: CasInput, output?: CasOutput): CasOperation {
  return { client, call, ret, input, output: ret === Infinity ? undefined : (output ?? {}) };
}

export const read = (v: number | null): [CasInput, CasOutput] => [{ op: 'read' }, { value: v }];
export const write = (v: number): [CasInput, CasOutput] => [{ op: 'write', value: v }, {}];
export const casOp = (from: number, to: number, ok: boolean): [CasInput, CasOutput] => [{ op: 'cas', from, to }, { ok }];

/** Builds an op from [input, output] so tables of hand-made histories stay short. */
export function at(client: number, call: number, ret: number, [input, output]: [CasInput, CasOutput]): CasOperation {
  return cas(client, call, ret, input, output);
}

export function kv(client: number, call: number, ret: number, input: KvInput, output?: KvOutput): KvOperation {
  return { client, call, ret, input, output: ret === Infinity ? undefined : (output ?? {}) };
}
