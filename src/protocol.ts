/**
 * Imports every module's wire message definitions, so a node process (and
 * the codec tests) know every message type before the first frame arrives.
 * Add a line here when a module defines messages.
 */
import './wire/messages.js';
import './raft/transport.js';
import './gossip/transport.js';
import './manager/dispatcher/messages.js';
import './manager/membership/messages.js';
import './worker/agent/logs.js';
import './manager/lease/messages.js';
import './worker/supervisor/messages.js';
