// Structured JSON lines: one object per line with time, level, component, message and ids.
import type { LogFields, LogLevel, Logger } from '../core/logger';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

export class JsonLogger implements Logger {
  constructor(
    private readonly sink: LogSink,
    private readonly level: { current: LogLevel },
    private readonly fields: LogFields = {},
  ) {}

  debug(msg: string, fields?: LogFields): void {
    this.emit('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.emit('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.emit('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.emit('error', msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.sink, this.level, { ...this.fields, ...fields });
  }

  private emit(level: LogLevel, msg: string, fields?: LogFields): void {
    if (ORDER[level] < ORDER[this.level.current]) return;
    const record = { time: new Date().toISOString(), level, ...this.fields, msg, ...fields };
    this.sink.write(`${JSON.stringify(record, errorReplacer)}\n`);
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { message: value.message, code: (value as { code?: unknown }).code };
  return value;
}
