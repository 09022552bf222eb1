/**
 * A store driven the way Raft drives it: every call is one committed
 * transaction at the next index (term 1, a fixed time). The allocation tests
 * extend it with their own queries.
 */
import { Store } from '../../src/manager/store/store.js';
import { encodeTxn, type StoreOp, type TxnResult } from '../../src/manager/store/commands.js';

export const T = '2026-12-04T00:00:00Z';

export class StoreDriver {
  store = new Store();
  index = 0;
  run(...ops: StoreOp[]): TxnResult {
    return this.store.apply({ index: ++this.index, term: 1, command: encodeTxn({ time: T, ops }) });
  }
  must(...ops: StoreOp[]): void {
    const r = this.run(...ops);
    if (!r.ok) throw new Error(`${r.code} ${r.field ?? ''} ${r.message}`);
  }
}
