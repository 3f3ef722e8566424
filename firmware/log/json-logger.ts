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

/** The logger's level, changed at run time (`antctl log-level`): every JsonLogger sharing it follows at once. */
export class RuntimeLogLevel {
  constructor(public current: LogLevel) {}

  set(level: LogLevel): LogLevel {
    const previous = this.current;
    this.current = level;
    return previous;
  }
}

/**
 * Passes every line on and keeps the most recent `maxBytes` of them in memory, so a support bundle has the
 * firmware's log even where stdout goes to a pipe or a journal it cannot read back.
 */
export class RecentLogSink implements LogSink {
  private readonly lines: string[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly next: LogSink,
    private readonly maxBytes: number,
  ) {}

  write(line: string): void {
    this.next.write(line);
    this.lines.push(line);
    this.bytes += line.length;
    while (this.bytes > this.maxBytes && this.head < this.lines.length) {
      this.bytes -= (this.lines[this.head] ?? '').length;
      this.head++;
    }
    // Compact now and then instead of shifting on every line.
    if (this.head > 1024 && this.head * 2 > this.lines.length) {
      this.lines.splice(0, this.head);
      this.head = 0;
    }
  }

  /** The kept lines, oldest first. */
  text(): string {
    return this.lines.slice(this.head).join('');
  }
}
