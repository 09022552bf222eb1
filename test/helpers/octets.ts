export { claimOctets } from '../../chaos-tests/harness/octets.js';
