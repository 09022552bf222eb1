/**
 * `npm run test:full` (SHOAL_TEST_FULL=1): the runs that repeat what the
 * default suite already proves with other seeds or fault mixes. The default
 * `npm test` keeps one of each kind, so it stays near 6 minutes on 2 cores.
 */
export const FULL = process.env.SHOAL_TEST_FULL === '1';

/** For a test's name: why it did not run by default. */
export const FULL_ONLY = { skip: FULL ? false : 'runs with npm run test:full (SHOAL_TEST_FULL=1)' } as const;
