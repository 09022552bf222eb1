export { ProcCluster, procs, type NodeProc, type HttpResult } from '../../chaos-tests/harness/proc-cluster.js';
