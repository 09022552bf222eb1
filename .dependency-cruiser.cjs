/**
 * Shoal's layering, checked by `npm test` (test/structure/layers.test.ts).
 *
 * Dependencies run one way, from the edge of the system to its core:
 *
 *   cli → manager/api → raft → manager/store → manager/orchestrator
 *       → scheduler → manager/dispatcher → worker/agent → worker/runtime
 *
 * with src/model (the domain objects), src/protocol (role-to-role message
 * contracts), src/wire and src/util below all of them, and src/node (the
 * daemon, the composition root) and bin/ above. The manager and the worker
 * talk only through src/protocol. Nothing in src/ reaches test machinery.
 */
/** A rule that forbids `from` importing any of `to`. */
const forbid = (name, comment, from, to, extra = {}) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to, ...extra } });

module.exports = {
  forbidden: [
    forbid('no-test-machinery-in-src', 'the product must not ship or load test code', '^src/', '^(test|bench|chaos-tests)/'),
    forbid('no-cycles', 'dependencies run one way', '^src/', '^src/', { circular: true }),
    forbid('manager-not-worker', 'the manager and the worker talk only through src/protocol', '^src/manager/', '^src/worker/'),
    forbid('worker-not-manager', 'the manager and the worker talk only through src/protocol', '^src/worker/', '^src/manager/'),
    forbid('model-is-the-bottom', 'the domain model depends on nothing of ours but the helpers (the error base)', '^src/model/', '^src/(?!model/|util/)'),
    forbid('protocol-below-roles', 'contracts depend on the model and the wire, not on the roles that use them (index.ts lists every module that defines messages)', '^src/protocol/(?!index)', '^src/(manager|worker|cli|node|scheduler|raft|gossip)/'),
    forbid('wire-below-everything', 'the transport knows no role', '^src/wire/', '^src/(manager|worker|cli|node|scheduler|raft|gossip|protocol)/'),
    forbid('util-below-everything', 'helpers know no role', '^src/util/', '^src/(?!util/)'),
    forbid('cli-only-through-api', 'the CLI drives a cluster through its API, never its internals', '^src/cli/', '^src/(manager/(?!api/shapes|membership/tokens)|raft|scheduler|worker/(?!runtime/(images|interface)))'),
    forbid('api-not-lower-roles', 'the API layer does not reach below the store into placement or nodes', '^src/manager/api/', '^src/(scheduler|worker|cli|node)/'),
    forbid('raft-is-a-library', 'Raft knows nothing of what it replicates', '^src/raft/', '^src/(manager|worker|cli|node|scheduler|gossip|model|protocol)/'),
    forbid('gossip-is-a-library', 'gossip knows nothing of tasks or managers', '^src/gossip/', '^src/(manager|worker|cli|node|scheduler|raft|model|protocol)/'),
    forbid('store-not-upward', 'the store is below the API and the orchestrator', '^src/manager/store/', '^src/(manager/(api|orchestrator|dispatcher|leader|lease|membership)|cli|node|scheduler|worker)/'),
    forbid('orchestrator-not-upward', 'the orchestrator decides from the store; it does not serve the API or the CLI', '^src/manager/orchestrator/', '^src/(manager/(api|dispatcher|membership)|cli|node|worker)/'),
    forbid('scheduler-not-upward', 'the scheduler places tasks; it knows no store, API or agent', '^src/scheduler/', '^src/(manager|worker|cli|node|raft|gossip)/'),
    forbid('dispatcher-not-upward', 'the dispatcher is below the API and the orchestrator', '^src/manager/dispatcher/', '^src/(manager/(api|orchestrator)|cli|node)/'),
    forbid('agent-not-upward', 'the agent runs what it is assigned', '^src/worker/agent/', '^src/(cli|node|scheduler)/'),
    forbid('runtime-is-the-bottom-role', 'runtimes are driven by the agent and the supervisor, and drive nothing', '^src/worker/runtime/', '^src/(worker/agent|cli|node|scheduler|raft|gossip)/'),
    forbid('overlay-dataplane-below', 'the kernel half of the data plane knows the overlay contract, the model and the helpers, nothing else (not even the resolver)', '^src/overlay-net/dataplane/', '^src/(?!overlay-net/(interface\\.ts$|dataplane/)|model/|util/)'),
    forbid('overlay-dns-below', 'the embedded resolver knows the overlay contract, the model and the helpers, nothing else (not even the kernel half)', '^src/overlay-net/dns/', '^src/(?!overlay-net/(interface\\.ts$|dns/)|model/|util/)'),
    forbid('pure-cores-no-io', 'the pure cores take clock, randomness and network from outside', '^src/(raft/(core|log|progress|quorum|readonly|confchange)|gossip/(core|members|suspicion|awareness|queue)|scheduler/(scheduler|filters|score-[a-z]+|placement-index|spread-tree|heap)|manager/orchestrator/(reconcile|replicated|global|restart|update|plan|slots|history|node-down))\\.ts$', '^(node:)?(fs|net|dgram|child_process|http|https|worker_threads|sqlite3|ws|hyperswarm|hyperdht)$|^src/util/sqlite'),
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6'],
  },
};
