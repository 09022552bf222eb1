/**
 * Every node-to-node contract, in one place: importing this module defines
 * each message type on the wire registry, so a node process (and the codec
 * and fuzz tests) knows every type before the first frame arrives. The
 * contracts between roles live in this folder (dispatcher, lease,
 * membership, logs), so the manager and the worker depend on them and never
 * on each other; the transports' own (wire, raft, gossip) and the node-local
 * supervisor socket's stay with their modules. Add a line when a module
 * defines messages.
 */
import '../wire/messages.js';
import '../raft/transport.js';
import '../gossip/transport.js';
import './dispatcher.js';
import './membership.js';
import './logs.js';
import './lease.js';
import '../worker/supervisor/messages.js';
