/**
 * The one place Shoal imports msgpackr from.
 *
 * Under Node, msgpackr's main entry also loads msgpackr-extract, a native
 * addon that decodes strings in batches through a C++ call. On our traffic —
 * small frames with a few short keys (record definitions, envelope-less
 * bodies) — that call costs more than the JS string reader it replaces:
 * disabling it raised sequential 1 KiB wire round trips by about 7 % in
 * `npm run bench:wire`. 'msgpackr/pack' resolves to the pure-JS entry, and as
 * long as nothing imports the main entry, the native reader is never
 * installed (it is process-wide state inside msgpackr).
 */
export { Packr, Unpackr, RESERVE_START_SPACE } from 'msgpackr/pack';
