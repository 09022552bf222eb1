/** The linearizability checker: Wing–Gong/Lowe search with memoisation and P-compositionality. */
export type * from './interface.js';
export { check, DEFAULT_TIMEOUT_MS } from './check.js';
export { kvModel, checkKv } from './models/kv.js';
export { casRegisterModel, checkCas, type CasState } from './models/cas-register.js';
export { parseJepsenLog } from './parse/jepsen.js';
export { parseKvHistory } from './parse/edn-kv.js';
export { HistoryParseError, HistoryError } from './errors.js';
