import { check } from '../check.js';
import type { CasInput, CasOperation, CasOutput, CheckOptions, CheckResult, Model } from '../interface.js';

/** The register's value; null = nil (the initial state). */
export type CasState = number | null;

/**
 * A single compare-and-set register (Jepsen's etcd test): read, write, and
 * cas(from, to) which swaps only when the register holds `from`.
 *
 * A cas that failed its comparison is still an operation with a place in the
 * order: it tells us the register did not hold `from` at that moment.
 */
export const casRegisterModel: Model<CasState, CasInput, CasOutput> = {
  name: 'cas-register',
  init: () => null,
  step(state, input, output) {
    switch (input.op) {
      case 'read':
        return { ok: output === undefined || (output.value ?? null) === state, state };
      case 'write':
        return { ok: true, state: input.value };
      case 'cas': {
        const holds = state === input.from;
        // Unknown outcome: if it took effect, the state decided whether it
        // swapped; "never took effect" is covered by placing it last.
        if (output === undefined) return { ok: true, state: holds ? input.to : state };
        if (output.ok === true) return { ok: holds, state: input.to };
        return { ok: !holds, state };
      }
    }
  },
  hash: (state) => (state === null ? 'nil' : String(state)),
  describe(input, output) {
    switch (input.op) {
      case 'read':
        return `read() -> ${output === undefined ? '?' : show(output.value ?? null)}`;
      case 'write':
        return `write(${input.value})`;
      case 'cas':
        return `cas(${input.from}, ${input.to}) -> ${output === undefined ? '?' : output.ok ? 'ok' : 'fail'}`;
    }
  },
  describeState: (state) => show(state),
};

function show(v: number | null): string {
  return v === null ? 'nil' : String(v);
}

/** Checks a CAS-register history (no partitioning: one register). */
export function checkCas(ops: CasOperation[], opts?: CheckOptions): CheckResult {
  return check(casRegisterModel, ops, opts);
}
