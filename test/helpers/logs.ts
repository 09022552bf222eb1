import type { LogFields, Logger, LogLevel } from '../../src/util/log/interface.js';

export interface RecordedLog {
  level: LogLevel;
  msg: string;
  /** The record's fields, a child's bindings included. */
  fields: LogFields;
}

/** A Logger that keeps what is written, children included, for a test to read. */
export function recordingLogger(onRecord?: (r: RecordedLog) => void): { log: Logger; records: RecordedLog[]; messages(): string[] } {
  const records: RecordedLog[] = [];
  const make = (bindings: LogFields): Logger => {
    const at =
      (level: LogLevel) =>
      (a: LogFields | string, b?: string): void => {
        const r = typeof a === 'string' ? { level, msg: a, fields: { ...bindings } } : { level, msg: b ?? '', fields: { ...bindings, ...a } };
        records.push(r);
        onRecord?.(r);
      };
    return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (more) => make({ ...bindings, ...more }) };
  };
  return { log: make({}), records, messages: () => records.map((r) => r.msg) };
}
