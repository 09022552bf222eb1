export { waitFor, within } from '../../chaos-tests/harness/wait.js';
