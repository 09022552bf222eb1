/**
 * `shoal up` says which runtime a service's tasks get when it names none,
 * why, what IMAGE then means, and where the other runtimes are available
 * (from the nodes' Description.Runtimes). The real output is checked in
 * up.test.ts; here every branch of the note.
 */
import t from 'tap';
import { NODE_DEFAULT_RUNTIME, runtimeNote } from '../../src/cli/commands/up.js';

const node = (...runtimes: string[]) => ({ Description: { Runtimes: runtimes } });

t.test('the default (process), and why', async (t) => {
  t.equal(NODE_DEFAULT_RUNTIME, 'process');
  const note = runtimeNote({}, [node('process', 'oci'), node('process', 'oci'), node('process')]);
  t.equal(
    note,
    'Default task runtime: process (the default: it needs no root, runc, images or Docker Engine, so it works on any machine);\n' +
      '  tasks are host processes and IMAGE is the program: `shoal service create sleep 300` runs `sleep 300`.\n' +
      '  Override per service with --runtime oci|docker (available: oci on 2/3 nodes, docker on 0/3 nodes).\n',
  );
});

t.test('a runtime chosen with shoal up --runtime', async (t) => {
  const oci = runtimeNote({ runtime: 'oci' }, [node('process', 'oci')]);
  t.match(oci, /^Default task runtime: oci \(chosen with `shoal up --runtime oci`\);\n {2}IMAGE is an image from the node-local store \(`shoal image import`\)\.\n {2}Override per service with --runtime process\|docker \(available: process on 1\/1 nodes, docker on 0\/1 nodes\)\.\n$/);
  t.match(runtimeNote({ runtime: 'docker' }, []), /IMAGE is an image in the nodes' Docker Engine\.\n {2}Override per service with --runtime process\|oci\.\n$/, 'no availability when no node reports its runtimes');
});
