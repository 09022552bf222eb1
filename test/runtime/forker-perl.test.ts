/**
 * forker.test.ts again on the Perl forker, which runs the tasks wherever
 * the build found no C compiler: both must keep every promise.
 */
process.env.SHOAL_TASK_FORKER = 'perl';
await import('./forker.test.js');
