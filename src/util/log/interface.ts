/**
 * The one logger every part of a node writes through: levels, fields and a
 * component per child, one JSON record per line (pino underneath, see
 * node-logger.ts). Modules take a `Logger` in their options and make a
 * child per component or object they log about; tests pass `silentLogger`
 * or a logger that records what it is given.
 */

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Fields on a record: `node`, `component`, `term`, `task`, `service`, `err` (an Error, serialized with its stack), … */
export type LogFields = Record<string, unknown>;

export interface LogMethod {
  (msg: string): void;
  (fields: LogFields, msg: string): void;
}

export interface Logger {
  trace: LogMethod;
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  /** A logger whose records all carry `bindings` (pino's child). */
  child(bindings: LogFields): Logger;
}

/** A record as the node writes it: one JSON object per line. */
export interface LogRecord {
  level: LogLevel;
  /** RFC 3339 with milliseconds. */
  time: string;
  msg: string;
  node?: string;
  component?: string;
  [field: string]: unknown;
}

/** Numeric order of the levels, for "this level or worse" filters. */
export function levelRank(l: LogLevel): number {
  return LOG_LEVELS.indexOf(l);
}

export function isLogLevel(v: unknown): v is LogLevel {
  return typeof v === 'string' && (LOG_LEVELS as readonly string[]).includes(v);
}

const noop = (): void => {};

/** Drops everything: the default where a caller passes no logger. */
export const silentLogger: Logger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };

/** A part's logger: the one it was given (or none) with its component bound. */
export function componentLogger(log: Logger | undefined, component: string): Logger {
  return (log ?? silentLogger).child({ component });
}
